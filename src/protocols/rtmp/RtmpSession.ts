import type { Socket } from 'node:net';
import { AmfReader } from '../../amf/index.js';
import { Client, type ClientWriter, formatAddress } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { ProtocolError, RejectionError, errorMessage } from '../../errors.js';
import type { Logger } from '../../util/Logger.js';
import { RtmpChunkReader, type RtmpMessage } from './RtmpChunkReader.js';
import { encodeMessage, setChunkSize, setPeerBandwidth, userControl, windowAckSize, acknowledgement } from './RtmpChunkWriter.js';
import { RtmpServerHandshake } from './RtmpHandshake.js';
import { RtmpNetStream } from './RtmpNetStream.js';
import { BandwidthLimit, ChunkStreamId, MessageType, UserControlEvent } from './constants.js';
import { connectResult, errorCommand, invocation, resultCommand, statusInfo } from './rtmpStatus.js';

export interface RtmpSessionOptions {
  chunkSize: number;
  windowAckSize: number;
  maxMessageSize: number;
  timeoutMs: number;
}

/** Commands handled by the server itself; anything else is an RPC for the application. */
const STREAM_COMMANDS = new Set([
  'publish', 'play', 'play2', 'pause', 'pauseRaw', 'seek', 'receiveAudio', 'receiveVideo', 'closeStream',
]);

/** Most messages a session queues while a hook is pending (the socket is paused meanwhile). */
const MAX_PENDING_MESSAGES = 4096;
/** Time a client has from TCP connect to a finished `connect` command. */
const CONNECT_DEADLINE_MS = 15_000;
const PING_INTERVAL_MS = 10_000;

/**
 * One RTMP connection: handshake, chunk stream, protocol control, NetConnection commands. Streams
 * (publish/play) live in RtmpNetStream. Commands run in order: while a hook is pending, incoming
 * messages wait in a bounded queue and the socket is paused.
 */
export class RtmpSession implements ClientWriter {
  readonly client: Client;
  readonly startedAt = Date.now();
  private handshake: RtmpServerHandshake | null = new RtmpServerHandshake();
  private readonly reader: RtmpChunkReader;
  private readonly streams = new Map<number, RtmpNetStream>();
  private nextStreamId = 1;
  private pending: RtmpMessage[] | null = null;
  private peerWindowAck = 0;
  private lastAckSent = 0;
  private lastPingSent = 0;
  private closed = false;
  private objectEncoding = 0;
  readonly outChunkSize: number;

  constructor(
    readonly socket: Socket,
    readonly core: Core,
    readonly options: RtmpSessionOptions,
    readonly log: Logger,
    private readonly onClosed: (session: RtmpSession) => void,
  ) {
    this.outChunkSize = options.chunkSize;
    this.client = new Client('RTMP', formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0), this);
    this.reader = new RtmpChunkReader((msg) => this.onMessage(msg), { maxMessageSize: options.maxMessageSize });
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes waiting in the socket's user-space buffer: what the media drop policy looks at. */
  get queuedBytes(): number {
    return this.socket.writableLength;
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
          this.socket.write(step.send);
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
      this.socket.write(acknowledgement(received >>> 0));
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
    if (this.pending !== null) {
      if (this.pending.length >= MAX_PENDING_MESSAGES) {
        throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'too many messages while a command is pending');
      }
      this.pending.push(msg);
      return;
    }
    this.dispatch(msg);
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
      this.socket.write(userControl(UserControlEvent.PING_RESPONSE, p.readUInt32BE(2)));
    } else if (event === UserControlEvent.PING_RESPONSE && p.length >= 6) {
      const sent = p.readUInt32BE(2);
      this.client.ping = Math.max(0, ((Date.now() - this.startedAt) >>> 0) - sent);
    }
  }

  private dispatch(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.COMMAND_AMF0:
      case MessageType.COMMAND_AMF3: {
        const work = this.onCommand(msg);
        if (work !== null) {
          this.waitFor(work);
        }
        return;
      }
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
      case MessageType.DATA_AMF3:
      case MessageType.AGGREGATE: {
        const stream = this.streams.get(msg.streamId);
        if (stream === undefined) {
          this.log.debug(`${this.client.address}: message type ${msg.type} on unknown stream ${msg.streamId} ignored`);
          return;
        }
        stream.onMessage(msg);
        return;
      }
      case MessageType.SHARED_OBJECT_AMF0:
      case MessageType.SHARED_OBJECT_AMF3: {
        this.log.debug(`${this.client.address}: shared objects are not supported, message ignored`);
        return;
      }
      default: {
        throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `unknown message type ${msg.type}`);
      }
    }
  }

  /** Holds further messages until `work` settles, so commands and media keep their order. */
  private waitFor(work: Promise<void>): void {
    this.pending = [];
    this.socket.pause();
    work
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        const queue = this.pending ?? [];
        this.pending = null;
        for (let i = 0; i < queue.length && !this.closed; i++) {
          if (this.pending !== null) {
            (this.pending as RtmpMessage[]).push(queue[i]);
            continue;
          }
          try {
            this.dispatch(queue[i]);
          } catch (err) {
            this.fail(err);
          }
        }
        if (this.pending === null && !this.closed) {
          this.socket.resume();
        }
      });
  }

  private onCommand(msg: RtmpMessage): Promise<void> | null {
    // AMF3 command messages start with one 0 byte, then AMF0 values (which may switch to AMF3).
    const reader = new AmfReader(msg.payload, msg.type === MessageType.COMMAND_AMF3 ? 1 : 0);
    const values = reader.readAllAmf0();
    const name = values[0];
    const transactionId = typeof values[1] === 'number' ? values[1] : 0;
    if (typeof name !== 'string') {
      throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'command without a name');
    }
    const args = values.slice(3);
    if (this.client.state === 'connecting' && name !== 'connect') {
      throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `command ${name} before connect`);
    }
    switch (name) {
      case 'connect': {
        return this.onConnect(transactionId, values[2], args);
      }
      case 'createStream': {
        const id = this.nextStreamId++;
        if (this.streams.size >= 64) {
          throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'too many streams');
        }
        this.streams.set(id, new RtmpNetStream(this, id));
        this.writeCommand(0, resultCommand(transactionId, null, id));
        return null;
      }
      case 'deleteStream': {
        const id = typeof args[0] === 'number' ? args[0] : -1;
        this.streams.get(id)?.close();
        this.streams.delete(id);
        return null;
      }
      case 'releaseStream':
      case 'getStreamLength':
      case '_checkbw': {
        // ffmpeg treats an _error here as fatal for getStreamLength: answer like FMS does.
        this.writeCommand(0, resultCommand(transactionId, null, name === 'getStreamLength' ? 0 : undefined));
        return null;
      }
      case 'FCPublish':
      case 'FCUnpublish':
      case 'FCSubscribe':
      case 'FCUnsubscribe': {
        const code = name === 'FCPublish' ? 'NetStream.Publish.Start' : name === 'FCSubscribe' ? 'NetStream.Play.Start' : 'NetStream.Unpublish.Success';
        this.writeCommand(0, invocation(`on${name}`, { code, description: typeof args[0] === 'string' ? args[0] : '' }));
        return null;
      }
      case '_result':
      case '_error':
      case 'onBWDone':
      case 'onStatus': {
        return null;
      }
      default: {
        if (STREAM_COMMANDS.has(name)) {
          const stream = this.streams.get(msg.streamId);
          if (stream === undefined) {
            this.log.warn(`${this.client.address}: ${name} on unknown stream ${msg.streamId}`);
            return null;
          }
          return stream.onCommand(name, transactionId, args);
        }
        return this.onCall(name, transactionId, args);
      }
    }
  }

  private async onConnect(transactionId: number, commandObject: unknown, args: unknown[]): Promise<void> {
    if (this.client.state !== 'connecting') {
      throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'second connect on one connection');
    }
    const props = (typeof commandObject === 'object' && commandObject !== null ? commandObject : {}) as Record<string, unknown>;
    this.objectEncoding = props.objectEncoding === 3 ? 3 : 0;
    const app = typeof props.app === 'string' ? props.app : '';
    const [path, query] = splitApp(app, typeof props.tcUrl === 'string' ? props.tcUrl : '');
    this.client.path = path;
    this.client.query = query;
    const properties: Record<string, unknown> = { ...props };
    for (const [k, v] of new URLSearchParams(query)) {
      properties[k] = v;
    }
    this.client.properties = properties;

    this.socket.write(windowAckSize(this.options.windowAckSize));
    this.socket.write(setPeerBandwidth(this.options.windowAckSize, BandwidthLimit.DYNAMIC));
    this.socket.write(setChunkSize(this.outChunkSize));
    let response: Record<string, unknown>;
    try {
      response = await this.core.connect(this.client, args);
    } catch (err) {
      const reason = errorMessage(err);
      const code = err instanceof RejectionError && err.code === 'MS_ERR_CONNECT_INVALID_APP' ? 'NetConnection.Connect.InvalidApp' : 'NetConnection.Connect.Rejected';
      this.log.info(`${this.client.address}: connect to ${path === '' ? '/' : path} rejected: ${reason}`);
      this.writeCommand(0, errorCommand(transactionId, statusInfo('error', code, reason)));
      this.writeCommand(0, invocation('close'));
      this.close(`connect rejected: ${reason}`, true);
      return;
    }
    if (this.closed) {
      return;
    }
    this.writeCommand(0, connectResult(transactionId, this.objectEncoding, response));
    this.log.info(`${this.client.address}: connected to ${path === '' ? '/' : path}`);
  }

  private async onCall(name: string, transactionId: number, args: unknown[]): Promise<void> {
    try {
      const values = await this.core.call(this.client, name, args);
      if (transactionId !== 0 && !this.closed) {
        this.writeCommand(0, resultCommand(transactionId, null, ...values));
      }
    } catch (err) {
      const reason = errorMessage(err);
      this.log.debug(`${this.client.address}: call ${name} failed: ${reason}`);
      if (!this.closed) {
        this.writeCommand(0, errorCommand(transactionId, statusInfo('error', 'NetConnection.Call.Failed', reason)));
      }
    }
  }

  /** Write a whole message (chunked at our outgoing chunk size). */
  writeRaw(csid: number, type: number, streamId: number, timestamp: number, payload: Buffer): void {
    if (!this.closed) {
      this.socket.write(encodeMessage(csid, type, streamId, timestamp, payload, this.outChunkSize));
    }
  }

  writeCommand(streamId: number, payload: Buffer): void {
    this.writeRaw(ChunkStreamId.COMMAND, this.objectEncoding === 3 ? MessageType.COMMAND_AMF3 : MessageType.COMMAND_AMF0, streamId, 0, this.objectEncoding === 3 ? Buffer.concat([Buffer.alloc(1), payload]) : payload);
  }

  writeControl(bytes: Buffer): void {
    if (!this.closed) {
      this.socket.write(bytes);
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
    if (this.client.state === 'connecting' && now - this.startedAt > CONNECT_DEADLINE_MS) {
      this.close('no connect within 15 s');
      return;
    }
    if (this.options.timeoutMs > 0 && now - this.client.lastReceptionTime > this.options.timeoutMs) {
      this.close(`nothing received for ${this.options.timeoutMs / 1000} s (RTMP.timeout)`);
      return;
    }
    if (this.client.state === 'connected' && now - this.lastPingSent >= PING_INTERVAL_MS) {
      this.lastPingSent = now;
      this.socket.write(userControl(UserControlEvent.PING_REQUEST, (now - this.startedAt) >>> 0));
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
    const level = reason.startsWith('protocol error') || reason.startsWith('error') ? 'warn' : 'info';
    this.log[level](`${this.client.address}: session closed: ${reason}`);
    for (const stream of this.streams.values()) {
      stream.close();
    }
    this.streams.clear();
    this.core.disconnect(this.client);
    if (graceful) {
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

/**
 * The application path from `connect`'s `app` (e.g. "live", "live/sub?x=1"): "" for the root,
 * "/a/b" otherwise, and the query from `app` or else from `tcUrl`.
 */
export const splitApp = (app: string, tcUrl: string): [string, string] => {
  let query = '';
  let name = app;
  const q = app.indexOf('?');
  if (q >= 0) {
    query = app.slice(q + 1);
    name = app.slice(0, q);
  } else {
    const t = tcUrl.indexOf('?');
    if (t >= 0) {
      query = tcUrl.slice(t + 1);
    }
  }
  const parts = name.split('/').filter((s) => s !== '');
  return [parts.length === 0 ? '' : `/${parts.join('/')}`, query];
};
