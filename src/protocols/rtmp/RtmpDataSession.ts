import type { Socket } from 'node:net';
import type { SubscriptionControl } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { ProtocolError, type SessionCause, causeOf, sessionEnd } from '../../errors.js';
import type { SocketHandover } from '../../kernels/index.js';
import { FrameKind, type MediaFrame, type WireSlots } from '../../media/MediaFrame.js';
import type { SubscriberSink } from '../../media/Subscriber.js';
import type { Logger } from '../../util/Logger.js';
import type { TrafficSource } from '../SessionTraffic.js';
import { SessionMedia, isMediaMessage } from '../flash/SessionMedia.js';
import { RtmpChunkReader, type RtmpMessage } from './RtmpChunkReader.js';
import { acknowledgement, encodeMessage, userControl } from './RtmpChunkWriter.js';
import { RtmpServerHandshake } from './RtmpHandshake.js';
import type { RtmpCommands, RtmpDataOptions, RtmpDataState, RtmpEvents } from './RtmpLink.js';
import { unpackAggregate } from './aggregate.js';
import { ChunkStreamId, MessageType, UserControlEvent } from './constants.js';
import { RtmpSocketWriter } from './RtmpSocketWriter.js';
import type { WireContext } from '../WireContext.js';

const PING_INTERVAL_MS = 10_000;

/**
 * What Node read from `socket` and holds for a 'data' event that did not come (the stream was
 * paused), taken out of it as one exact-size copy of its own. Called with no 'data' listener left,
 * just before the handle closes (the read it may restart never runs).
 */
const takeReadBuffer = (socket: Socket): Uint8Array => {
  const chunks: Buffer[] = [];
  let total = 0;
  while (socket.readableLength > 0) {
    const chunk: unknown = socket.read();
    if (!Buffer.isBuffer(chunk)) {
      break;
    }
    chunks.push(chunk);
    total += chunk.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
};

const csidOf = (kind: FrameKind): number =>
  kind === FrameKind.VIDEO ? ChunkStreamId.VIDEO : kind === FrameKind.AUDIO ? ChunkStreamId.AUDIO : ChunkStreamId.DATA;

/** A frame as one RTMP message (fmt 0 first chunk: the same bytes for every player). */
const encodeFrame = (frame: MediaFrame, streamId: number, chunkSize: number): Buffer =>
  encodeMessage(csidOf(frame.kind), frame.kind === FrameKind.DATA ? MessageType.DATA_AMF0 : frame.kind, streamId, frame.timestamp, frame.payload, chunkSize);

/**
 * One playing stream of a session as its publication's fan-out sees it: the frame's RTMP
 * encoding for this chunk size and stream id (shared by every player of the thread with the same
 * two, read by its wire slot), queued in the thread's turn batch.
 */
class RtmpPlayer implements SubscriberSink {
  private readonly slot: number;

  constructor(
    private readonly session: RtmpDataSession,
    private readonly out: RtmpSocketWriter,
    private readonly streamId: number,
    private readonly chunkSize: number,
    /** The thread's wire slots (`WireContext.wireSlots`). */
    private readonly slots: WireSlots,
  ) {
    this.slot = slots.slotOf(`rtmp:${chunkSize}:${streamId}`);
  }

  get queuedBytes(): number {
    return this.out.queuedBytes;
  }

  write(frame: MediaFrame): void {
    const slot = this.slot;
    // Past the slot table (`WireSlots`), the encoding is memoized by name.
    const bytes =
      slot >= 0
        ? (frame.wireAt(slot) ?? frame.store(this.slots, slot, encodeFrame(frame, this.streamId, this.chunkSize)))
        : frame.encoded(this.slots, `rtmp:${this.chunkSize}:${this.streamId}`, (f) => encodeFrame(f, this.streamId, this.chunkSize));
    this.out.writeFrame(bytes);
  }

  tooSlow(): void {
    this.session.close(sessionEnd('MS_ERR_SUBSCRIBER_TOO_SLOW', 'subscriber too slow: stayed behind past media.subscriberTimeout'), false);
  }
}

/**
 * The data half of one RTMP connection (RtmpLink.ts): the socket, the handshake (when it starts
 * here), the chunk stream both ways, protocol control, acknowledgements, pings and timeouts, and
 * its NetStreams' media. Commands go to the control half; everything else stays on this thread.
 */
export class RtmpDataSession implements RtmpCommands, TrafficSource {
  private handshake: RtmpServerHandshake | null;
  private readonly reader: RtmpChunkReader;
  private readonly out: RtmpSocketWriter;
  readonly media: SessionMedia;
  private readonly startedAt: number;
  private peerWindowAck = 0;
  private lastAckSent = 0;
  private lastPingSent = 0;
  private lastReception: number;
  private isConnected = false;
  private closed = false;
  /** The control half's setReading (false while it waits on a hook). */
  private reading = true;
  /** After a handover: what the previous thread had read but not parsed, parsed before the socket's bytes (`start`). */
  private unread: Buffer | null = null;
  /** Traffic counted by the thread(s) that had the connection before (a handover's state). */
  private readonly receivedBefore: number;
  private readonly sentBefore: number;

  constructor(
    readonly socket: Socket,
    /** The packet-path state of this thread: its write batch and wire slots. */
    wire: WireContext,
    private readonly options: RtmpDataOptions,
    private readonly log: Logger,
    /** For log lines: the client's address. */
    readonly label: string,
    private readonly events: RtmpEvents,
    private readonly onGone: (session: RtmpDataSession) => void,
    state: RtmpDataState | null = null,
  ) {
    this.out = new RtmpSocketWriter(socket, wire.frames);
    this.reader = new RtmpChunkReader((msg) => this.onMessage(msg), { maxMessageSize: options.maxMessageSize });
    this.media = new SessionMedia((streamId) => new RtmpPlayer(this, this.out, streamId, options.chunkSize, wire.wireSlots));
    if (state === null) {
      this.handshake = new RtmpServerHandshake();
      this.startedAt = Date.now();
      this.lastReception = this.startedAt;
      this.receivedBefore = 0;
      this.sentBefore = 0;
    } else {
      this.handshake = null;
      this.reader.importState(state.reader);
      this.startedAt = state.startedAt;
      this.peerWindowAck = state.peerWindowAck;
      this.lastAckSent = state.lastAckSent;
      this.lastPingSent = state.lastPingSent;
      this.lastReception = state.lastReception;
      this.isConnected = true;
      this.reading = state.reading;
      this.receivedBefore = state.bytesReceived;
      this.sentBefore = state.bytesSent;
      if (state.unread.length > 0) {
        this.unread = Buffer.from(state.unread.buffer, state.unread.byteOffset, state.unread.byteLength);
      }
    }
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.close(sessionEnd('MS_ERR_SOCKET', `socket error: ${err.message}`), false));
    socket.on('close', () => this.close(sessionEnd('MS_ERR_SESSION_CLOSED', 'connection closed by peer'), false));
    if (!this.reading) {
      // Before the first 'data' (it comes on a later tick): the control half resumes it.
      socket.pause();
    }
  }

  /**
   * After a handover (a session made with a state), once the owner can hear its events: the bytes
   * the previous thread had read but not parsed go first, unless reading is paused (then they
   * wait for `setReading(true)`, still ahead of the socket's).
   */
  start(): void {
    if (this.reading) {
      this.parseUnread();
    }
  }

  private parseUnread(): void {
    const bytes = this.unread;
    if (bytes !== null) {
      this.unread = null;
      this.onData(bytes);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // TrafficSource (read once a second: Node's counters, and the direct writes)

  /** TCP payload bytes read from the connection (by this thread's socket, plus before a handover). */
  get bytesReceived(): number {
    return this.receivedBefore + this.socket.bytesRead;
  }

  /** TCP payload bytes the kernel took for the connection. */
  get bytesSent(): number {
    return this.sentBefore + this.out.bytesSent;
  }

  sampleLostRate(): number {
    // TCP: nothing is lost at this level.
    return 0;
  }

  private onData(data: Buffer): void {
    if (this.closed) {
      return;
    }
    this.lastReception = Date.now();
    try {
      if (this.handshake !== null) {
        const step = this.handshake.push(data);
        if (step.send !== null) {
          this.out.write(step.send);
        }
        if (!step.done) {
          return;
        }
        this.handshake = null;
        if (step.rest === null || step.rest.length === 0) {
          return;
        }
        data = step.rest;
      }
      this.reader.push(data);
      this.maybeAcknowledge();
    } catch (err) {
      this.fail(err);
    }
  }

  private maybeAcknowledge(): void {
    const received = this.reader.bytesReceived;
    if (this.peerWindowAck > 0 && received - this.lastAckSent >= this.peerWindowAck) {
      this.lastAckSent = received;
      this.out.write(acknowledgement(received >>> 0));
    }
  }

  private onMessage(msg: RtmpMessage): void {
    if (this.closed) {
      return;
    }
    switch (msg.type) {
      case MessageType.SET_CHUNK_SIZE: {
        const size = msg.payload.length >= 4 ? msg.payload.readUInt32BE(0) : 0;
        if (size < 1 || size > 0x7fffffff) {
          throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `invalid chunk size ${size}`);
        }
        // Applies at once: the very next chunk has the new size.
        this.reader.chunkSize = size;
        return;
      }
      case MessageType.ABORT: {
        if (msg.payload.length >= 4) {
          this.reader.abort(msg.payload.readUInt32BE(0));
        }
        return;
      }
      case MessageType.WINDOW_ACK_SIZE: {
        if (msg.payload.length >= 4) {
          this.peerWindowAck = msg.payload.readUInt32BE(0);
        }
        return;
      }
      case MessageType.USER_CONTROL: {
        this.onUserControl(msg.payload);
        return;
      }
      case MessageType.ACK:
      case MessageType.SET_PEER_BANDWIDTH: {
        // Nothing a server answers.
        return;
      }
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
      case MessageType.DATA_AMF3: {
        this.media.onMessage(msg.streamId, msg.type, msg.timestamp, msg.payload);
        return;
      }
      case MessageType.AGGREGATE: {
        const parts = unpackAggregate(msg.payload, msg.timestamp);
        if (parts === null) {
          throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'malformed aggregate message');
        }
        for (const part of parts) {
          if (isMediaMessage(part.type)) {
            this.media.onMessage(msg.streamId, part.type, part.timestamp, part.payload);
          }
        }
        return;
      }
      case MessageType.COMMAND_AMF0:
      case MessageType.COMMAND_AMF3: {
        this.events.onCommand(msg.streamId, msg.type, msg.payload);
        return;
      }
      case MessageType.SHARED_OBJECT_AMF0:
      case MessageType.SHARED_OBJECT_AMF3: {
        this.log.debug(`${this.label}: shared objects are not supported, message ignored`);
        return;
      }
      default: {
        throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `unknown message type ${msg.type}`);
      }
    }
  }

  private onUserControl(p: Buffer): void {
    if (p.length < 6) {
      return;
    }
    const event = p.readUInt16BE(0);
    if (event === UserControlEvent.PING_REQUEST) {
      this.out.write(userControl(UserControlEvent.PING_RESPONSE, p.readUInt32BE(2)));
    } else if (event === UserControlEvent.PING_RESPONSE) {
      this.events.onPing(Math.max(0, ((Date.now() - this.startedAt) >>> 0) - p.readUInt32BE(2)));
    }
  }

  // RtmpCommands (from the control half)

  write(bytes: Buffer): void {
    if (!this.closed) {
      this.out.write(bytes);
    }
  }

  setReading(on: boolean): void {
    if (this.closed) {
      return;
    }
    this.reading = on;
    if (on) {
      this.parseUnread();
      if (!this.closed && this.reading) {
        this.socket.resume();
      }
    } else {
      this.socket.pause();
    }
  }

  connected(): void {
    this.isConnected = true;
  }

  play(streamId: number, publication: Publication): SubscriptionControl {
    return this.media.play(streamId, publication.feed);
  }

  stopPlaying(streamId: number): void {
    this.media.stopPlaying(streamId);
  }

  publish(streamId: number, publication: Publication): void {
    this.media.publish(streamId, publication);
  }

  stopPublishing(streamId: number): void {
    this.media.stopPublishing(streamId);
  }

  /** Periodic work from the thread's shared tick: timeouts and pings. */
  tick(now: number): void {
    if (this.closed) {
      return;
    }
    if (!this.isConnected && now - this.startedAt > this.options.connectTimeoutMs) {
      this.close(sessionEnd('MS_ERR_SESSION_TIMEOUT', `no connect within ${this.options.connectTimeoutMs / 1000} s (RTMP.connectTimeout)`), false);
      return;
    }
    if (this.options.timeoutMs > 0 && now - this.lastReception > this.options.timeoutMs) {
      this.close(sessionEnd('MS_ERR_SESSION_TIMEOUT', `nothing received for ${this.options.timeoutMs / 1000} s (RTMP.timeout)`), false);
      return;
    }
    if (this.isConnected && now - this.lastPingSent >= PING_INTERVAL_MS) {
      this.lastPingSent = now;
      this.out.writeQueued(userControl(UserControlEvent.PING_REQUEST, (now - this.startedAt) >>> 0));
    }
  }

  /**
   * Lets the socket go to another thread: its descriptor duplicated (with `handover`), what this
   * side knows of the stream, and this side's handle closed without a FIN. Null when it cannot go
   * now (bytes still queued in Node, media already attached here, the socket gone): it stays.
   *
   * The new side goes on from byte `reader.bytesReceived` of the stream: the reader's state covers
   * every byte parsed here, `unread` the bytes Node read from the socket but this side never saw
   * (while a hook is pending reading is paused, yet Node reads ahead into its buffer up to the
   * high-water mark), and the descriptor the rest, still in the kernel.
   */
  handover(handover: SocketHandover): { fd: number; state: RtmpDataState } | null {
    const socket = this.socket;
    this.out.settle();
    if (this.closed || this.handshake !== null || socket.destroyed || socket.writableLength > 0 || this.media.busy) {
      return null;
    }
    const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
    const fd = typeof handle?.fd === 'number' ? handle.fd : -1;
    if (fd < 0) {
      return null;
    }
    const copy = handover.duplicateStream(fd);
    if (copy < 0) {
      this.log.warn(`${this.label}: the socket cannot be handed over (errno ${-copy}), it stays on the main thread`);
      return null;
    }
    // Closed here for good: nothing on this thread touches the socket any more.
    this.closed = true;
    socket.removeAllListeners('data');
    // Counted before the handle goes (bytesRead covers what `unread` takes out of Node's buffer).
    const bytesReceived = this.bytesReceived;
    const bytesSent = this.bytesSent;
    const state: RtmpDataState = {
      reader: this.reader.exportState(),
      startedAt: this.startedAt,
      peerWindowAck: this.peerWindowAck,
      lastAckSent: this.lastAckSent,
      lastPingSent: this.lastPingSent,
      lastReception: this.lastReception,
      unread: takeReadBuffer(socket),
      reading: this.reading,
      bytesReceived,
      bytesSent,
    };
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    socket.on('error', () => undefined);
    socket.pause();
    socket.destroy();
    this.onGone(this);
    return { fd: copy, state };
  }

  private fail(err: unknown): void {
    this.close(causeOf(err), false);
  }

  /** Ends the session; the control half hears it once (unless it asked for it). */
  close(cause: SessionCause, graceful: boolean): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.media.close();
    if (graceful) {
      // Frames queued this turn go before the end.
      this.out.settle();
      // Let the last statuses reach the client; reading on (a pending hook may have paused the
      // socket) lets the peer's FIN close it, and a timer bounds how long a silent peer holds it.
      const socket = this.socket;
      socket.resume();
      socket.end();
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.once('close', () => clearTimeout(timer));
    } else {
      this.socket.destroy();
    }
    this.onGone(this);
    this.events.onClosed(cause);
  }
}
