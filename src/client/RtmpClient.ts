import { type Socket, connect as tcpConnect } from 'node:net';
import { EventEmitter } from 'node:events';
import { AmfReader, encodeAmf0 } from '../amf/index.js';
import { RtmpChunkReader, type RtmpMessage } from '../protocols/rtmp/RtmpChunkReader.js';
import { encodeMessage, setChunkSize, userControl, acknowledgement } from '../protocols/rtmp/RtmpChunkWriter.js';
import { RtmpClientHandshake } from '../protocols/rtmp/RtmpHandshake.js';
import { ChunkStreamId, MessageType, UserControlEvent } from '../protocols/rtmp/constants.js';

export interface RtmpStatus {
  level?: string;
  code?: string;
  description?: string;
  [k: string]: unknown;
}

export interface RtmpClientOptions {
  /** Called for every audio/video/data message received (light mode: no event per frame). */
  onMedia?: (type: number, timestamp: number, payload: Buffer, streamId: number) => void;
  /** Outgoing chunk size (default 4096). */
  chunkSize?: number;
  /** Answer ping requests and send acknowledgements (default true). A "never reads" client sets false and pauses. */
  polite?: boolean;
  /** 3: connect with objectEncoding 3 and send commands as AMF3 command messages (type 17). */
  objectEncoding?: 0 | 3;
}

interface PendingCall {
  resolve: (values: unknown[]) => void;
  reject: (err: Error) => void;
}

export class RtmpCallError extends Error {
  constructor(readonly info: RtmpStatus) {
    super(`${info.code ?? 'error'}: ${info.description ?? ''}`);
  }
}

/**
 * An RTMP client (NetConnection + NetStreams) for tests, benchmarks and users: connect, publish,
 * play, call. Frames arrive through `options.onMedia`; statuses as 'status' events
 * (streamId, info); invocations from the server as 'invoke' (name, args).
 */
export class RtmpClient extends EventEmitter {
  socket: Socket | null = null;
  private reader: RtmpChunkReader;
  private handshake = new RtmpClientHandshake();
  private handshakeDone = false;
  private nextTransaction = 1;
  private readonly calls = new Map<number, PendingCall>();
  private readonly chunkSize: number;
  private windowAck = 0;
  private lastAck = 0;
  closed = false;
  /** Every status received, in order (tests look at them). */
  readonly statuses: Array<{ streamId: number; info: RtmpStatus }> = [];

  constructor(private readonly options: RtmpClientOptions = {}) {
    super();
    this.chunkSize = options.chunkSize ?? 4096;
    this.reader = new RtmpChunkReader((m) => this.onMessage(m), { maxMessageSize: 64 * 1024 * 1024 });
  }

  /** TCP connect, handshake, then NetConnection.connect; resolves with the `_result` info object. */
  async connect(url: string, commandExtra: Record<string, unknown> = {}, ...args: unknown[]): Promise<RtmpStatus> {
    const u = new URL(url);
    const app = u.pathname.replace(/^\//, '') + u.search;
    const port = u.port === '' ? 1935 : Number(u.port);
    const socket = tcpConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port, noDelay: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(null));
    const handshaken = new Promise<void>((resolve) => this.once('handshake', resolve));
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.write(this.handshake.start());
    await handshaken;
    socket.write(setChunkSize(this.chunkSize));
    const values = await this.call('connect', {
      app,
      flashVer: 'FMLE/3.0 (compatible; Nimbus)',
      tcUrl: `${u.protocol}//${u.host}${u.pathname}${u.search}`,
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: this.options.objectEncoding ?? 0,
      ...commandExtra,
    }, ...args);
    return (values[0] ?? {}) as RtmpStatus;
  }

  private onData(data: Buffer): void {
    if (!this.handshakeDone) {
      const step = this.handshake.push(data);
      if (step.send !== null) {
        this.socket?.write(step.send);
      }
      if (!step.done) {
        return;
      }
      this.handshakeDone = true;
      this.emit('handshake');
      if (step.rest === null || step.rest.length === 0) {
        return;
      }
      data = step.rest;
    }
    try {
      this.reader.push(data);
    } catch (err) {
      this.shutdown(err as Error);
      return;
    }
    if (this.options.polite !== false && this.windowAck > 0 && this.reader.bytesReceived - this.lastAck >= this.windowAck) {
      this.lastAck = this.reader.bytesReceived;
      this.socket?.write(acknowledgement(this.lastAck >>> 0));
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.SET_CHUNK_SIZE: {
        this.reader.chunkSize = msg.payload.readUInt32BE(0);
        return;
      }
      case MessageType.WINDOW_ACK_SIZE: {
        this.windowAck = msg.payload.readUInt32BE(0);
        return;
      }
      case MessageType.USER_CONTROL: {
        if (msg.payload.readUInt16BE(0) === UserControlEvent.PING_REQUEST && this.options.polite !== false) {
          this.socket?.write(userControl(UserControlEvent.PING_RESPONSE, msg.payload.readUInt32BE(2)));
        }
        this.emit('userControl', msg.payload.readUInt16BE(0), msg.payload.subarray(2));
        return;
      }
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0: {
        this.options.onMedia?.(msg.type, msg.timestamp, msg.payload, msg.streamId);
        return;
      }
      case MessageType.COMMAND_AMF0:
      case MessageType.COMMAND_AMF3: {
        this.onCommand(msg);
        return;
      }
      default: {
        return;
      }
    }
  }

  private onCommand(msg: RtmpMessage): void {
    const values = new AmfReader(msg.payload, msg.type === MessageType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
    const name = typeof values[0] === 'string' ? values[0] : '';
    const transaction = typeof values[1] === 'number' ? values[1] : 0;
    if (name === '_result' || name === '_error') {
      const call = this.calls.get(transaction);
      if (call !== undefined) {
        this.calls.delete(transaction);
        if (name === '_result') {
          call.resolve(values.slice(3));
        } else {
          call.reject(new RtmpCallError((values[3] ?? {}) as RtmpStatus));
        }
      }
      return;
    }
    if (name === 'onStatus') {
      const info = (values[3] ?? {}) as RtmpStatus;
      this.statuses.push({ streamId: msg.streamId, info });
      this.emit('status', msg.streamId, info);
      return;
    }
    this.emit('invoke', name, values.slice(3));
  }

  private send(type: number, streamId: number, payload: Buffer, csid: number = ChunkStreamId.COMMAND, timestamp = 0): void {
    this.socket?.write(encodeMessage(csid, type, streamId, timestamp, payload, this.chunkSize));
  }

  /** A command message: AMF0 (type 20), or with objectEncoding 3 a type 17 message (one 0 byte, then AMF0). */
  private sendCommand(streamId: number, payload: Buffer, csid: number = ChunkStreamId.COMMAND): void {
    if (this.options.objectEncoding === 3) {
      this.send(MessageType.COMMAND_AMF3, streamId, Buffer.concat([Buffer.alloc(1), payload]), csid);
    } else {
      this.send(MessageType.COMMAND_AMF0, streamId, payload, csid);
    }
  }

  /** NetConnection.call: resolves with the values after the command object of `_result`. */
  call(name: string, commandObject: unknown = null, ...args: unknown[]): Promise<unknown[]> {
    const transaction = this.nextTransaction++;
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('connection closed'));
        return;
      }
      this.calls.set(transaction, { resolve, reject });
      this.sendCommand(0, encodeAmf0(name, transaction, commandObject, ...args));
    });
  }

  async createStream(): Promise<number> {
    const [id] = await this.call('createStream');
    return Number(id);
  }

  /** Sends a command on a stream (publish, play, pause...) without waiting for an answer. */
  streamCommand(streamId: number, name: string, ...args: unknown[]): void {
    this.sendCommand(streamId, encodeAmf0(name, 0, null, ...args), 8);
  }

  /** Resolves with the first status on `streamId` whose code is one of `codes`. */
  waitStatus(streamId: number, codes: string[], timeoutMs = 10_000): Promise<RtmpStatus> {
    const seen = this.statuses.find((s) => s.streamId === streamId && codes.includes(s.info.code ?? ''));
    if (seen !== undefined) {
      return Promise.resolve(seen.info);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('status', listener);
        reject(new Error(`no ${codes.join('/')} on stream ${streamId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (id: number, info: RtmpStatus): void => {
        if (id === streamId && codes.includes(info.code ?? '')) {
          clearTimeout(timer);
          this.off('status', listener);
          resolve(info);
        }
      };
      this.on('status', listener);
    });
  }

  async publish(name: string): Promise<number> {
    const id = await this.createStream();
    this.streamCommand(id, 'publish', name, 'live');
    const info = await this.waitStatus(id, ['NetStream.Publish.Start', 'NetStream.Publish.BadName', 'NetStream.Publish.Failed']);
    if (info.code !== 'NetStream.Publish.Start') {
      throw new RtmpCallError(info);
    }
    return id;
  }

  async play(name: string): Promise<number> {
    const id = await this.createStream();
    this.streamCommand(id, 'play', name, -2);
    const info = await this.waitStatus(id, ['NetStream.Play.Start', 'NetStream.Play.Failed', 'NetStream.Play.StreamNotFound']);
    if (info.code !== 'NetStream.Play.Start') {
      throw new RtmpCallError(info);
    }
    return id;
  }

  /** Publisher side: one media message (type 8/9/18) on `streamId`. */
  writeMedia(streamId: number, type: number, timestamp: number, payload: Buffer): void {
    const csid = type === MessageType.VIDEO ? ChunkStreamId.VIDEO : type === MessageType.AUDIO ? ChunkStreamId.AUDIO : ChunkStreamId.DATA;
    this.send(type, streamId, payload, csid, timestamp);
  }

  /** Raw bytes on the socket (bad-input tests). */
  writeRaw(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  private shutdown(err: Error | null): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const call of this.calls.values()) {
      call.reject(err ?? new Error('connection closed'));
    }
    this.calls.clear();
    this.socket?.destroy();
    this.emit('close', err);
  }

  close(): void {
    this.shutdown(null);
  }
}
