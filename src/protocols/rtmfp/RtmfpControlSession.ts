import { AmfReader } from '../../amf/index.js';
import { Client, type ClientWriter, formatAddress } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { type SessionCause, causeOf, describeEnd, endLogLevel, errorMessage, sessionEnd } from '../../errors.js';
import type { Logger } from '../../util/Logger.js';
import { FlashNetConnection } from '../flash/FlashNetConnection.js';
import type { FlashTransport } from '../flash/FlashTransport.js';
import type { MediaCommands } from '../flash/SessionMedia.js';
import { invocation } from '../flash/flashStatus.js';
import { OrderedDispatch } from '../flash/OrderedDispatch.js';
import { SubWriter } from '../flash/SubWriter.js';
import { AddressOrigin, type RtmfpAddress, parseHostPort } from './address.js';
import type { SessionCommands, SessionEvents } from './SessionLink.js';
import { TcType, TcUserControl, encodeTcMessage, encodeUserControl } from './tcMessage.js';

/** What a control session needs from the protocol (main thread). */
export interface ControlHost {
  readonly core: Core;
  readonly log: Logger;
  readonly keepaliveServerMs: number;
  readonly keepalivePeerMs: number;
  onRendezvousReady(session: RtmfpControlSession): void;
  onGroupMessage(session: RtmfpControlSession, flowId: number, message: Buffer): void;
  onGroupFlowClosed(session: RtmfpControlSession, flowId: number): void;
  onControlClosed(session: RtmfpControlSession): void;
}

/** Most TC messages queued while a hook is pending. */
const MAX_PENDING = 4096;

/**
 * The control half of an RTMFP session, on the main thread: the core's Client, NetConnection and
 * NetStream semantics through the shared flash layer, `setPeerInfo` and keepalive timers,
 * rendezvous readiness and address changes. Its data half (`commands`) may be local or in a
 * media worker. Commands run in order: while a hook is pending, later messages wait.
 */
export class RtmfpControlSession implements FlashTransport, ClientWriter, SessionEvents {
  readonly protocolName = 'RTMFP';
  objectEncoding = 3;
  readonly client: Client;
  readonly connection: FlashNetConnection;
  /** Addresses from setPeerInfo (origin "reported"). */
  reportedAddresses: RtmfpAddress[] = [];
  rendezvousReady = false;
  closed = false;
  private readonly ordered = new OrderedDispatch<[number, number, number, Buffer]>(
    ([streamId, type, timestamp, body]) => this.dispatch(streamId, type, timestamp, body),
    (err) => this.fail(err),
    () => !this.closed,
    MAX_PENDING,
    undefined,
    undefined,
    'MS_ERR_RTMFP_PROTOCOL',
  );

  constructor(
    private readonly host: ControlHost,
    /** Unique across workers: the data plane's session key. */
    readonly sid: number,
    readonly peerId: Buffer,
    public address: RtmfpAddress,
    readonly commands: SessionCommands,
  ) {
    this.client = new Client('RTMFP', formatAddress(address.host, address.port), this, peerId);
    this.connection = new FlashNetConnection(this);
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

  get peerIdHex(): string {
    return this.client.id;
  }

  /** Every address a peer may reach this client at: observed first, then reported ones. */
  get addresses(): RtmfpAddress[] {
    return [{ ...this.address, origin: AddressOrigin.OBSERVED }, ...this.reportedAddresses];
  }

  // SessionEvents (from the data half)

  onTc(streamId: number, type: number, timestamp: number, body: Buffer): void {
    if (this.closed) {
      return;
    }
    try {
      this.ordered.push([streamId, type, timestamp, body]);
    } catch (err) {
      this.fail(err);
    }
  }

  private dispatch(streamId: number, type: number, timestamp: number, body: Buffer): Promise<void> | null {
    if (type === TcType.COMMAND_AMF0 || type === TcType.COMMAND_AMF3) {
      const values = new AmfReader(body, type === TcType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
      if (values[0] === 'setPeerInfo') {
        this.onSetPeerInfo(values.slice(3));
        return null;
      }
      return this.connection.onCommand(streamId, values);
    }
    if (type === TcType.USER_CONTROL) {
      return null;
    }
    this.log.debug(`${this.client.address}: message type ${type} ignored on stream ${streamId}`);
    return null;
  }

  private onSetPeerInfo(args: unknown[]): void {
    const addresses: RtmfpAddress[] = [];
    for (const arg of args) {
      if (typeof arg !== 'string' || addresses.length >= 8) {
        continue;
      }
      const address = parseHostPort(arg, 0, AddressOrigin.REPORTED);
      // Unspecified addresses ("0.0.0.0:port", "[::]:port") tell nothing a peer can use.
      if (address !== null && address.port !== 0 && address.host !== '0.0.0.0' && address.host !== '::') {
        addresses.push(address);
      }
    }
    // Kept for the session's lifetime: an exact-size copy, not an array grown by push (17 slots).
    this.reportedAddresses = addresses.slice();
    this.commands.writeTc(0, encodeUserControl(TcUserControl.SET_KEEPALIVE, this.host.keepaliveServerMs, this.host.keepalivePeerMs));
    if (!this.rendezvousReady && this.client.state === 'connected') {
      this.rendezvousReady = true;
      this.host.onRendezvousReady(this);
    }
  }

  onGroupMessage(flowId: number, message: Buffer): void {
    this.host.onGroupMessage(this, flowId, message);
  }

  onGroupFlowClosed(flowId: number): void {
    this.host.onGroupFlowClosed(this, flowId);
  }

  onAddressChanged(host: string, port: number): void {
    const old = this.client.address;
    this.address = { host, port, origin: AddressOrigin.OBSERVED };
    this.client.address = formatAddress(host, port);
    this.log.info(`${old}: session moved to ${this.client.address}`);
    const hooks = this.core.hooks;
    if (hooks.onAddressChanged !== undefined) {
      try {
        const result = hooks.onAddressChanged(this.client, old);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.log.error(`onAddressChanged failed: ${errorMessage(err)}`));
        }
      } catch (err) {
        this.log.error(`onAddressChanged failed: ${errorMessage(err)}`);
      }
    }
  }

  /** The data half ended: release everything the session holds. */
  onClosed(cause: SessionCause): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.log[endLogLevel(cause)](`${this.client.address}: RTMFP session closed: ${describeEnd(cause)} (${cause.code})`);
    this.connection.close();
    this.core.disconnect(this.client);
    this.host.onControlClosed(this);
  }

  // FlashTransport

  writeCommand(streamId: number, payload: Buffer): void {
    if (this.closed) {
      return;
    }
    const message =
      this.objectEncoding === 3
        ? encodeTcMessage(TcType.COMMAND_AMF3, 0, Buffer.concat([Buffer.alloc(1), payload]))
        : encodeTcMessage(TcType.COMMAND_AMF0, 0, payload);
    this.commands.writeTc(streamId, message);
  }

  writeData(streamId: number, payload: Buffer): void {
    if (!this.closed) {
      this.commands.writeTc(streamId, encodeTcMessage(TcType.DATA_AMF0, 0, payload));
    }
  }

  writeUserControl(event: number, streamId: number): void {
    // No StreamIsRecorded over RTMFP (MonaServer's RTMFP sessions send only StreamBegin and EOF):
    // librtmfp rejects (0x5E) a NetStream flow carrying it, losing later statuses and codec headers.
    if (!this.closed && event !== TcUserControl.STREAM_IS_RECORDED) {
      this.commands.writeTc(streamId, encodeUserControl(event, streamId));
    }
  }

  get media(): MediaCommands {
    return this.commands;
  }

  // ClientWriter

  writeInvocation(name: string, ...args: unknown[]): void {
    this.writeCommand(0, invocation(name, ...args));
  }

  writeMessage(...args: unknown[]): void {
    this.writeCommand(0, invocation('onMessage', ...args));
  }

  /** `writer:writeRaw(bytes)`: one message of exactly these bytes on the NetConnection flow (MonaServer's RTMFPWriter). */
  writeRaw(data: Buffer): void {
    if (!this.closed) {
      this.commands.writeTc(0, data);
    }
  }

  /**
   * `writer:newWriter()` (Cumulus `newFlowWriter()`): a writer on a new NetConnection flow of
   * this session, opened by its first message and ended by its `close()`; unreliable when the
   * script sets `reliable = false`.
   */
  newWriter(): ClientWriter {
    const id = this.nextWriterId++;
    return new SubWriter({
      command: (payload, reliable) =>
        this.commands.writeFlow(
          id,
          this.objectEncoding === 3
            ? encodeTcMessage(TcType.COMMAND_AMF3, 0, Buffer.concat([Buffer.alloc(1), payload]))
            : encodeTcMessage(TcType.COMMAND_AMF0, 0, payload),
          reliable,
        ),
      raw: (data, reliable) => this.commands.writeFlow(id, data, reliable),
      end: () => this.commands.closeFlow(id),
      sessionClosed: () => this.closed,
      newWriter: () => this.newWriter(),
    });
  }

  private nextWriterId = 1;

  private fail(err: unknown): void {
    this.end(causeOf(err));
  }

  /** `client.writer:close(reason)` from a script: what it wrote before goes out first (MonaServer flushes, then closes). */
  close(reason?: string): void {
    this.end(sessionEnd('MS_ERR_SESSION_CLOSED', reason === undefined || reason === '' ? 'closed by the server' : `closed by the server: ${reason}`), true);
  }

  /** Ends the session from the control side (a rejection, a script, the server stopping). */
  end(cause: SessionCause, graceful = false): void {
    if (!this.closed) {
      this.commands.close(cause, graceful);
      // A data half that already went away never answers: release here too.
      this.onClosed(cause);
    }
  }
}
