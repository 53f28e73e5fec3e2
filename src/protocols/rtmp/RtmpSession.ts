import { AmfReader } from '../../amf/index.js';
import { Client, type ClientWriter } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { type SessionCause, causeOf, describeEnd, endLogLevel, sessionEnd } from '../../errors.js';
import type { Logger } from '../../util/Logger.js';
import { FlashNetConnection } from '../flash/FlashNetConnection.js';
import type { FlashTransport } from '../flash/FlashTransport.js';
import type { MediaCommands } from '../flash/SessionMedia.js';
import { invocation } from '../flash/flashStatus.js';
import { OrderedDispatch } from '../flash/OrderedDispatch.js';
import { SubWriter } from '../flash/SubWriter.js';
import { encodeMessage, setChunkSize, setPeerBandwidth, userControl, windowAckSize } from './RtmpChunkWriter.js';
import type { RtmpCommands, RtmpEvents } from './RtmpLink.js';
import { BandwidthLimit, ChunkStreamId, MAX_CSID, MessageType } from './constants.js';

export interface RtmpSessionOptions {
  chunkSize: number;
  windowAckSize: number;
  maxMessageSize: number;
  timeoutMs: number;
  /** Time from TCP connect to a finished `connect` command. */
  connectTimeoutMs: number;
  mergeWriteMs: number;
}

/** The chunk stream of the first `writer:newWriter()` (2..6 carry protocol, commands and media). */
const FIRST_WRITER_CSID = 7;

/** Most commands a session queues while a hook is pending (reading is paused meanwhile). */
const MAX_PENDING_MESSAGES = 4096;

/** What a control session needs from the protocol. */
export interface RtmpSessionHost {
  readonly core: Core;
  readonly log: Logger;
  readonly options: RtmpSessionOptions;
  /** `connect` was accepted: the protocol may move the data half to a media worker. */
  onConnected(session: RtmpSession): void;
  onSessionClosed(session: RtmpSession): void;
}

/**
 * The control half of one RTMP connection, on the main thread (RtmpLink.ts): the core's Client
 * and the flash layer's transport. Commands from the data half run in order: while a hook is
 * pending, later ones wait in a bounded queue and the data half stops reading. What it writes
 * is chunked here at the session's outgoing chunk size and handed to the data half, wherever
 * that half lives (`commands`, which changes when the socket moves to a media worker).
 */
export class RtmpSession implements ClientWriter, FlashTransport, RtmpEvents {
  readonly protocolName = 'RTMP';
  objectEncoding = 0;
  readonly client: Client;
  private readonly connection: FlashNetConnection;
  private readonly ordered: OrderedDispatch<[number, number, Buffer]>;
  private closed = false;

  constructor(
    private readonly host: RtmpSessionHost,
    /** Unique across threads: names the session in a media worker's messages. */
    readonly sid: number,
    address: string,
    /** The client's IP as the socket gave it (per-address limits). */
    readonly ip: string,
    public commands: RtmpCommands,
  ) {
    this.client = new Client('RTMP', address, this);
    this.connection = new FlashNetConnection(this);
    this.ordered = new OrderedDispatch(
      ([streamId, type, payload]) => this.dispatch(streamId, type, payload),
      (err) => this.fail(err),
      () => !this.closed,
      MAX_PENDING_MESSAGES,
      () => this.commands.setReading(false),
      () => this.commands.setReading(true),
    );
  }

  get core(): Core {
    return this.host.core;
  }

  get log(): Logger {
    return this.host.log;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // RtmpEvents (from the data half)

  onCommand(streamId: number, type: number, payload: Buffer): void {
    if (this.closed) {
      return;
    }
    this.client.lastReceptionTime = Date.now();
    try {
      this.ordered.push([streamId, type, payload]);
    } catch (err) {
      this.fail(err);
    }
  }

  onPing(rtt: number): void {
    this.client.ping = rtt;
    this.client.lastReceptionTime = Date.now();
  }

  /** The data half ended: release everything the session holds. */
  onClosed(cause: SessionCause): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.log[endLogLevel(cause)](`${this.client.address}: session closed: ${describeEnd(cause)} (${cause.code})`);
    this.connection.close();
    this.core.disconnect(this.client);
    this.host.onSessionClosed(this);
  }

  private dispatch(streamId: number, type: number, payload: Buffer): Promise<void> | null {
    // AMF3 command messages start with one 0 byte, then AMF0 values (which may switch to AMF3).
    const values = new AmfReader(payload, type === MessageType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
    const work = this.connection.onCommand(streamId, values);
    if (values[0] === 'connect' && work !== null) {
      return work.then(() => {
        if (!this.closed && this.client.state === 'connected') {
          this.commands.connected();
          this.host.onConnected(this);
        }
      });
    }
    return work;
  }

  // FlashTransport

  onConnectStart(): void {
    const ack = this.host.options.windowAckSize;
    this.commands.write(Buffer.concat([windowAckSize(ack), setPeerBandwidth(ack, BandwidthLimit.DYNAMIC), setChunkSize(this.host.options.chunkSize)]));
  }

  /** A whole message, chunked at our outgoing chunk size. */
  private writeChunked(csid: number, type: number, streamId: number, payload: Buffer): void {
    if (!this.closed) {
      this.commands.write(encodeMessage(csid, type, streamId, 0, payload, this.host.options.chunkSize));
    }
  }

  writeCommand(streamId: number, payload: Buffer): void {
    if (this.objectEncoding === 3) {
      this.writeChunked(ChunkStreamId.COMMAND, MessageType.COMMAND_AMF3, streamId, Buffer.concat([Buffer.alloc(1), payload]));
    } else {
      this.writeChunked(ChunkStreamId.COMMAND, MessageType.COMMAND_AMF0, streamId, payload);
    }
  }

  writeData(streamId: number, payload: Buffer): void {
    this.writeChunked(ChunkStreamId.DATA, MessageType.DATA_AMF0, streamId, payload);
  }

  writeUserControl(event: number, streamId: number): void {
    if (!this.closed) {
      this.commands.write(userControl(event, streamId));
    }
  }

  get media(): MediaCommands {
    return this.commands;
  }

  // ClientWriter (what applications use)

  writeInvocation(name: string, ...args: unknown[]): void {
    this.writeCommand(0, invocation(name, ...args));
  }

  writeMessage(...args: unknown[]): void {
    this.writeCommand(0, invocation('onMessage', ...args));
  }

  /**
   * `writer:writeRaw(bytes)`: a User Control message (type 4) of these bytes on chunk stream 2,
   * what MonaServer's FlashWriter calls a raw message (its ping is `writeRaw()` + 0x0006 + time).
   */
  writeRaw(data: Buffer): void {
    this.writeChunked(ChunkStreamId.PROTOCOL, MessageType.USER_CONTROL, 0, data);
  }

  /**
   * `writer:newWriter()`: another writer on this connection, its messages on a chunk stream of
   * their own (7 and up); closing it stops its writes, the connection goes on.
   */
  newWriter(): ClientWriter {
    const csid = this.nextWriterCsid;
    this.nextWriterCsid = csid >= MAX_CSID ? FIRST_WRITER_CSID : csid + 1;
    return new SubWriter({
      command: (payload) =>
        this.objectEncoding === 3
          ? this.writeChunked(csid, MessageType.COMMAND_AMF3, 0, Buffer.concat([Buffer.alloc(1), payload]))
          : this.writeChunked(csid, MessageType.COMMAND_AMF0, 0, payload),
      raw: (data) => this.writeRaw(data),
      end: () => undefined,
      sessionClosed: () => this.closed,
      newWriter: () => this.newWriter(),
    });
  }

  private nextWriterCsid: number = FIRST_WRITER_CSID;

  private fail(err: unknown): void {
    this.end(causeOf(err));
  }

  /** `client.writer:close(reason)` from a script. */
  close(reason?: string): void {
    this.end(sessionEnd('MS_ERR_SESSION_CLOSED', reason === undefined || reason === '' ? 'closed by the server' : `closed by the server: ${reason}`));
  }

  /** Ends the session from the control side; `graceful` lets already written bytes reach the client. */
  end(cause: SessionCause, graceful = false): void {
    if (!this.closed) {
      this.commands.close(cause, graceful);
      // A data half that already went away never answers: release here too.
      this.onClosed(cause);
    }
  }
}
