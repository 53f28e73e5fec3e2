import type { Socket } from 'node:net';
import { AmfReader } from '../../amf/index.js';
import { Client, type ClientWriter, formatAddress } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { ProtocolError, errorMessage } from '../../errors.js';
import { FrameKind, type MediaFrame, wireSlot } from '../../media/MediaFrame.js';
import type { SubscriptionControl } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import type { SubscriberSink } from '../../media/Subscriber.js';
import { SessionMedia, isMediaMessage } from '../flash/SessionMedia.js';
import type { Logger } from '../../util/Logger.js';
import { FlashNetConnection } from '../flash/FlashNetConnection.js';
import type { FlashTransport } from '../flash/FlashTransport.js';
import { invocation } from '../flash/flashStatus.js';
import { OrderedDispatch } from '../flash/OrderedDispatch.js';
import { RtmpChunkReader, type RtmpMessage } from './RtmpChunkReader.js';
import { acknowledgement, encodeMessage, setChunkSize, setPeerBandwidth, userControl, windowAckSize } from './RtmpChunkWriter.js';
import { RtmpServerHandshake } from './RtmpHandshake.js';
import { unpackAggregate } from './aggregate.js';
import { BandwidthLimit, ChunkStreamId, MessageType, UserControlEvent } from './constants.js';
import { RtmpSocketWriter } from './RtmpSocketWriter.js';

export interface RtmpSessionOptions {
  chunkSize: number;
  windowAckSize: number;
  maxMessageSize: number;
  timeoutMs: number;
  /** Time from TCP connect to a finished `connect` command. */
  connectTimeoutMs: number;
}

/** Most messages a session queues while a hook is pending (the socket is paused meanwhile). */
const MAX_PENDING_MESSAGES = 4096;
const PING_INTERVAL_MS = 10_000;

const csidOf = (kind: FrameKind): number =>
  kind === FrameKind.VIDEO ? ChunkStreamId.VIDEO : kind === FrameKind.AUDIO ? ChunkStreamId.AUDIO : ChunkStreamId.DATA;

/** A frame as one RTMP message (fmt 0 first chunk: the same bytes for every player). */
const encodeFrame = (frame: MediaFrame, streamId: number, chunkSize: number): Buffer =>
  encodeMessage(csidOf(frame.kind), frame.kind === FrameKind.DATA ? MessageType.DATA_AMF0 : frame.kind, streamId, frame.timestamp, frame.payload, chunkSize);

/**
 * One playing stream of a session as its publication's fan-out sees it: the frame's RTMP
 * encoding for this chunk size and stream id (shared by every player with the same two, read by
 * its wire slot), queued in the thread's turn batch.
 */
class RtmpPlayer implements SubscriberSink {
  constructor(
    private readonly session: RtmpSession,
    private readonly out: RtmpSocketWriter,
    private readonly slot: number,
    private readonly streamId: number,
    private readonly chunkSize: number,
  ) {}

  get queuedBytes(): number {
    return this.out.queuedBytes;
  }

  write(frame: MediaFrame): void {
    const slot = this.slot;
    // Past the slot table (`wireSlot`), the encoding is memoized by name.
    const bytes =
      slot >= 0
        ? (frame.wireAt(slot) ?? frame.store(slot, encodeFrame(frame, this.streamId, this.chunkSize)))
        : frame.encoded(`rtmp:${this.chunkSize}:${this.streamId}`, (f) => encodeFrame(f, this.streamId, this.chunkSize));
    this.out.writeFrame(bytes);
  }

  tooSlow(): void {
    this.session.close('subscriber too slow: stayed behind past media.subscriberTimeout');
  }
}

/**
 * One RTMP connection: handshake, chunk stream, protocol control; NetConnection/NetStream
 * semantics come from the shared flash layer, to which this session is the transport. Commands
 * run in order: while a hook is pending, incoming messages wait in a bounded queue and the socket
 * is paused.
 */
export class RtmpSession implements ClientWriter, FlashTransport {
  readonly protocolName = 'RTMP';
  objectEncoding = 0;
  readonly client: Client;
  readonly startedAt = Date.now();
  private handshake: RtmpServerHandshake | null = new RtmpServerHandshake();
  private readonly reader: RtmpChunkReader;
  private readonly connection: FlashNetConnection;
  private readonly ordered: OrderedDispatch<RtmpMessage>;
  private peerWindowAck = 0;
  private lastAckSent = 0;
  private lastPingSent = 0;
  private closed = false;
  readonly outChunkSize: number;
  /** What its NetStreams play and publish. */
  private readonly media = new SessionMedia((streamId) => new RtmpPlayer(this, this.out, wireSlot(`rtmp:${this.outChunkSize}:${streamId}`), streamId, this.outChunkSize));
  /** Every byte to the socket goes through here (frames batched per turn, the rest at once). */
  private readonly out: RtmpSocketWriter;

  constructor(
    readonly socket: Socket,
    readonly core: Core,
    readonly options: RtmpSessionOptions,
    readonly log: Logger,
    private readonly onClosed: (session: RtmpSession) => void,
  ) {
    this.outChunkSize = options.chunkSize;
    this.out = new RtmpSocketWriter(socket);
    this.client = new Client('RTMP', formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0), this);
    this.reader = new RtmpChunkReader((msg) => this.onMessage(msg), { maxMessageSize: options.maxMessageSize });
    this.connection = new FlashNetConnection(this);
    this.ordered = new OrderedDispatch(
      (msg) => this.dispatch(msg),
      (err) => this.fail(err),
      () => !this.closed,
      MAX_PENDING_MESSAGES,
      () => socket.pause(),
      () => socket.resume(),
    );
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(data: Buffer): void {
    if (this.closed) {
      return;
    }
    this.client.lastReceptionTime = Date.now();
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
    // Protocol control applies at once (a chunk size change affects the very next chunk).
    if (msg.type <= MessageType.SET_PEER_BANDWIDTH) {
      this.onControl(msg);
      return;
    }
    this.ordered.push(msg);
  }

  private onControl(msg: RtmpMessage): void {
    const p = msg.payload;
    switch (msg.type) {
      case MessageType.SET_CHUNK_SIZE: {
        const size = p.length >= 4 ? p.readUInt32BE(0) : 0;
        if (size < 1 || size > 0x7fffffff) {
          throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `invalid chunk size ${size}`);
        }
        this.reader.chunkSize = size;
        return;
      }
      case MessageType.ABORT: {
        if (p.length >= 4) {
          this.reader.abort(p.readUInt32BE(0));
        }
        return;
      }
      case MessageType.WINDOW_ACK_SIZE: {
        if (p.length >= 4) {
          this.peerWindowAck = p.readUInt32BE(0);
        }
        return;
      }
      case MessageType.USER_CONTROL: {
        this.onUserControl(p);
        return;
      }
      default: {
        // Acknowledgements and peer bandwidth need no answer from a server.
        return;
      }
    }
  }

  private onUserControl(p: Buffer): void {
    if (p.length < 2) {
      return;
    }
    const event = p.readUInt16BE(0);
    if (event === UserControlEvent.PING_REQUEST && p.length >= 6) {
      this.out.write(userControl(UserControlEvent.PING_RESPONSE, p.readUInt32BE(2)));
    } else if (event === UserControlEvent.PING_RESPONSE && p.length >= 6) {
      const sent = p.readUInt32BE(2);
      this.client.ping = Math.max(0, ((Date.now() - this.startedAt) >>> 0) - sent);
    }
  }

  private dispatch(msg: RtmpMessage): Promise<void> | null {
    switch (msg.type) {
      case MessageType.COMMAND_AMF0:
      case MessageType.COMMAND_AMF3: {
        return this.onCommand(msg);
      }
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
      case MessageType.DATA_AMF3: {
        this.media.onMessage(msg.streamId, msg.type, msg.timestamp, msg.payload);
        return null;
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
        return null;
      }
      case MessageType.SHARED_OBJECT_AMF0:
      case MessageType.SHARED_OBJECT_AMF3: {
        this.log.debug(`${this.client.address}: shared objects are not supported, message ignored`);
        return null;
      }
      default: {
        throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `unknown message type ${msg.type}`);
      }
    }
  }

  private onCommand(msg: RtmpMessage): Promise<void> | null {
    // AMF3 command messages start with one 0 byte, then AMF0 values (which may switch to AMF3).
    const values = new AmfReader(msg.payload, msg.type === MessageType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
    return this.connection.onCommand(msg.streamId, values);
  }

  // FlashTransport

  onConnectStart(): void {
    this.out.write(windowAckSize(this.options.windowAckSize));
    this.out.write(setPeerBandwidth(this.options.windowAckSize, BandwidthLimit.DYNAMIC));
    this.out.write(setChunkSize(this.outChunkSize));
  }

  writeData(streamId: number, payload: Buffer): void {
    this.writeRaw(ChunkStreamId.DATA, MessageType.DATA_AMF0, streamId, 0, payload);
  }

  writeUserControl(event: number, streamId: number): void {
    this.writeControl(userControl(event, streamId));
  }

  startPlaying(streamId: number, publication: Publication): SubscriptionControl {
    return this.media.play(streamId, publication.feed);
  }

  stopPlaying(streamId: number): void {
    this.media.stopPlaying(streamId);
  }

  startPublishing(streamId: number, publication: Publication): void {
    this.media.publish(streamId, publication);
  }

  stopPublishing(streamId: number): void {
    this.media.stopPublishing(streamId);
  }

  /** Write a whole message (chunked at our outgoing chunk size). */
  writeRaw(csid: number, type: number, streamId: number, timestamp: number, payload: Buffer): void {
    if (!this.closed) {
      this.out.write(encodeMessage(csid, type, streamId, timestamp, payload, this.outChunkSize));
    }
  }

  writeCommand(streamId: number, payload: Buffer): void {
    this.writeRaw(ChunkStreamId.COMMAND, this.objectEncoding === 3 ? MessageType.COMMAND_AMF3 : MessageType.COMMAND_AMF0, streamId, 0, this.objectEncoding === 3 ? Buffer.concat([Buffer.alloc(1), payload]) : payload);
  }

  writeControl(bytes: Buffer): void {
    if (!this.closed) {
      this.out.write(bytes);
    }
  }

  // ClientWriter (what applications use)
  writeInvocation(name: string, ...args: unknown[]): void {
    this.writeCommand(0, invocation(name, ...args));
  }

  writeMessage(...args: unknown[]): void {
    this.writeCommand(0, invocation('onMessage', ...args));
  }

  /** Periodic work from the protocol's shared tick: timeouts and pings. */
  tick(now: number): void {
    if (this.closed) {
      return;
    }
    if (this.client.state === 'connecting' && now - this.startedAt > this.options.connectTimeoutMs) {
      this.close(`no connect within ${this.options.connectTimeoutMs / 1000} s (RTMP.connectTimeout)`);
      return;
    }
    if (this.options.timeoutMs > 0 && now - this.client.lastReceptionTime > this.options.timeoutMs) {
      this.close(`nothing received for ${this.options.timeoutMs / 1000} s (RTMP.timeout)`);
      return;
    }
    if (this.client.state === 'connected' && now - this.lastPingSent >= PING_INTERVAL_MS) {
      this.lastPingSent = now;
      this.out.write(userControl(UserControlEvent.PING_REQUEST, (now - this.startedAt) >>> 0));
    }
  }

  private fail(err: unknown): void {
    this.close(err instanceof ProtocolError ? `protocol error: ${err.message}` : `error: ${errorMessage(err)}`);
  }

  /** Release everything the session holds; `graceful` lets already written bytes reach the client. */
  close(reason = 'closed by the server', graceful = false): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.media.close();
    const level = reason.startsWith('protocol error') || reason.startsWith('error') ? 'warn' : 'info';
    this.log[level](`${this.client.address}: session closed: ${reason}`);
    this.connection.close();
    this.core.disconnect(this.client);
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
    this.onClosed(this);
  }
}
