import { type Socket, connect as tcpConnect } from 'node:net';
import { AmfReader, AmfWriter, encodeAmf0 } from '../amf/index.js';
import { RtmpChunkReader, type RtmpMessage } from '../protocols/rtmp/RtmpChunkReader.js';
import { encodeMessage, setChunkSize, userControl, acknowledgement } from '../protocols/rtmp/RtmpChunkWriter.js';
import { RtmpClientHandshake } from '../protocols/rtmp/RtmpHandshake.js';
import { ChunkStreamId, MessageType, UserControlEvent } from '../protocols/rtmp/constants.js';
import { FlashClient, RtmpCallError, type RtmpStatus } from './FlashClient.js';

export { RtmpCallError, type RtmpStatus };

export interface RtmpClientOptions {
  /** Called for every audio/video/data message received (light mode: no event per frame). */
  onMedia?: (type: number, timestamp: number, payload: Buffer, streamId: number) => void;
  /** Outgoing chunk size (default 4096). */
  chunkSize?: number;
  /** Answer ping requests and send acknowledgements (default true). A "never reads" client sets false and pauses. */
  polite?: boolean;
  /** 3: connect with objectEncoding 3 and send commands as AMF3 command messages (type 17). */
  objectEncoding?: 0 | 3;
  /** With objectEncoding 3: write each argument as an AMF3 value behind the 0x11 marker, as Flash Player does. */
  amf3Arguments?: boolean;
}

/**
 * An RTMP client (NetConnection + NetStreams) for tests, benchmarks and users: connect, publish,
 * play, call. Frames arrive through `options.onMedia`; statuses as 'status' events
 * (streamId, info); invocations from the server as 'invoke' (name, args).
 */
export class RtmpClient extends FlashClient {
  socket: Socket | null = null;
  private reader: RtmpChunkReader;
  private handshake = new RtmpClientHandshake();
  private handshakeDone = false;
  private readonly chunkSize: number;
  private windowAck = 0;
  private lastAck = 0;

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
    const values = await this.netConnect({
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
    }, args);
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
    // 'message' (msg): every whole message, with its chunk stream (tests look at what arrives raw).
    this.emit('message', msg);
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
    this.onCommandValues(msg.streamId, new AmfReader(msg.payload, msg.type === MessageType.COMMAND_AMF3 ? 1 : 0).readAllAmf0());
  }

  private send(type: number, streamId: number, payload: Buffer, csid: number = ChunkStreamId.COMMAND, timestamp = 0): void {
    this.socket?.write(encodeMessage(csid, type, streamId, timestamp, payload, this.chunkSize));
  }

  /** A command message: AMF0 (type 20), or with objectEncoding 3 a type 17 message (one 0 byte, then AMF0). */
  protected sendCommand(streamId: number, name: string, transaction: number, commandObject: unknown, args: unknown[]): void {
    let payload = encodeAmf0(name, transaction, commandObject);
    if (this.options.objectEncoding === 3 && this.options.amf3Arguments === true) {
      const writer = new AmfWriter();
      for (const arg of args) {
        writer.writeAmf0SwitchToAmf3(arg);
      }
      payload = Buffer.concat([payload, writer.toBuffer()]);
    } else {
      payload = Buffer.concat([payload, encodeAmf0(...args)]);
    }
    const csid = streamId === 0 ? ChunkStreamId.COMMAND : 8;
    if (this.options.objectEncoding === 3) {
      this.send(MessageType.COMMAND_AMF3, streamId, Buffer.concat([Buffer.alloc(1), payload]), csid);
    } else {
      this.send(MessageType.COMMAND_AMF0, streamId, payload, csid);
    }
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
    this.rejectCalls(err);
    this.socket?.destroy();
    this.emit('close', err);
  }

  close(): void {
    this.shutdown(null);
  }
}
