import { AmfReader } from '../../amf/index.js';
import { Client, type ClientWriter, formatAddress } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { ProtocolError, errorMessage } from '../../errors.js';
import type { Kernels, PacketKey } from '../../kernels/Kernels.js';
import { FrameKind, type MediaFrame } from '../../media/MediaFrame.js';
import type { Logger } from '../../util/Logger.js';
import { FlashNetConnection } from '../flash/FlashNetConnection.js';
import { FlashType } from '../flash/FlashNetStream.js';
import type { FlashTransport } from '../flash/FlashTransport.js';
import { invocation } from '../flash/flashStatus.js';
import { AddressOrigin, type RtmfpAddress, parseHostPort } from './address.js';
import { Congestion } from './flows/Congestion.js';
import { RtmfpRecvFlow } from './flows/RtmfpRecvFlow.js';
import { RtmfpSendFlow } from './flows/RtmfpSendFlow.js';
import type { RtmfpEndpoint } from './RtmfpEndpoint.js';
import { Mode } from './RtmfpPacket.js';
import { RtmfpSessionInput } from './RtmfpSessionInput.js';
import { RtmfpSessionOutput } from './RtmfpSessionOutput.js';
import {
  GROUP_METADATA, TC_HEADER_SIZE, TcType, TcUserControl, classifyFlow, encodeTcMessage, encodeUserControl, tcMetadata,
} from './tcMessage.js';

export interface RtmfpSessionSettings {
  /** Seconds; sent to the client in user control 41 (Set Keepalive Timers). */
  keepaliveServerMs: number;
  keepalivePeerMs: number;
  /** No packet received for this long closes the session (0 = never). */
  timeoutMs: number;
  /** Unreliable media older than this is abandoned instead of sent. */
  mediaDeadlineMs: number;
}

/** What a session needs from the protocol that owns it. */
export interface RtmfpSessionHost {
  readonly core: Core;
  readonly kernels: Kernels;
  readonly log: Logger;
  readonly settings: RtmfpSessionSettings;
  /** Sends one datagram. */
  send(datagram: Buffer, address: RtmfpAddress): void;
  /** Asks for `flush` soon (once per event-loop turn for all dirty sessions). */
  schedule(session: RtmfpSession): void;
  onClosed(session: RtmfpSession): void;
  /** The session finished `connect` and sent setPeerInfo: it can be introduced to peers. */
  onRendezvousReady(session: RtmfpSession): void;
  /** A GC flow message (NetGroup) arrived; the protocol's group service handles it. */
  onGroupMessage(session: RtmfpSession, flow: RtmfpRecvFlow, message: Buffer): void;
  onGroupFlowClosed(session: RtmfpSession, flow: RtmfpRecvFlow): void;
}

export interface RtmfpSessionKeys {
  localSsid: number;
  farSsid: number;
  encryptKey: PacketKey;
  decryptKey: PacketKey;
  peerId: Buffer;
}

/** Send flows of one NetStream: commands and data on `control` (reliable), media on its own flows. */
interface StreamFlows {
  control: RtmfpSendFlow;
  audio: RtmfpSendFlow | null;
  video: RtmfpSendFlow | null;
  /** The client's flow this stream answers. */
  clientFlowId: number;
}

/** Most queued TC messages while a hook is pending. */
const MAX_PENDING = 4096;
const MAX_RECV_FLOWS = 256;
const CLOSE_REPEATS = 5;

/**
 * One RTMFP session on the server (responder side), after the handshake: flows in both directions,
 * NetConnection/NetStream through the shared flash layer, keepalive, close, address mobility.
 * Packet parsing is in RtmfpSessionInput, packet building in RtmfpSessionOutput.
 */
export class RtmfpSession implements FlashTransport, ClientWriter, RtmfpEndpoint {
  readonly mode = Mode.RESPONDER;
  readonly protocolName = 'RTMFP';
  objectEncoding = 3;
  readonly client: Client;
  readonly connection: FlashNetConnection;
  readonly congestion = new Congestion();
  readonly recvFlows = new Map<number, RtmfpRecvFlow>();
  readonly sendFlows: RtmfpSendFlow[] = [];
  readonly input: RtmfpSessionInput;
  readonly output: RtmfpSessionOutput;
  private readonly streamFlows = new Map<number, StreamFlows>();
  private nextSendFlowId = 1;
  /** Addresses from setPeerInfo (origin "reported"). */
  reportedAddresses: RtmfpAddress[] = [];
  rendezvousReady = false;
  lastReceptionAt: number;
  private pending: Array<{ flow: RtmfpRecvFlow; message: Buffer }> | null = null;
  closed = false;
  private closeRepeats = 0;

  constructor(
    readonly host: RtmfpSessionHost,
    readonly keys: RtmfpSessionKeys,
    public address: RtmfpAddress,
    now: number,
  ) {
    this.client = new Client('RTMFP', formatAddress(address.host, address.port), this, keys.peerId);
    this.connection = new FlashNetConnection(this);
    this.input = new RtmfpSessionInput(this);
    this.output = new RtmfpSessionOutput(this);
    this.lastReceptionAt = now;
  }

  get core(): Core {
    return this.host.core;
  }

  get log(): Logger {
    return this.host.log;
  }

  get kernels(): Kernels {
    return this.host.kernels;
  }

  get label(): string {
    return this.client.address;
  }

  sendDatagram(datagram: Buffer): void {
    this.host.send(datagram, this.address);
  }

  requestFlush(): void {
    this.host.schedule(this);
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

  /** One datagram for this session (SSID already matched). */
  receive(datagram: Buffer, host: string, port: number, now: number): void {
    if (this.closed) {
      this.input.receiveWhileClosing(datagram);
      return;
    }
    try {
      if (!this.input.receive(datagram, now)) {
        return;
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    this.lastReceptionAt = now;
    if (host !== this.address.host || port !== this.address.port) {
      this.changeAddress(host, port);
    }
    this.host.schedule(this);
  }

  private changeAddress(host: string, port: number): void {
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

  /** A new flow from the client (first chunk with options). Returns null to reject it (0x5E). */
  openRecvFlow(flowId: number, metadata: Buffer, returnFlowId: number): RtmfpRecvFlow | null {
    const kind = classifyFlow(metadata);
    if (kind === null || this.recvFlows.size >= MAX_RECV_FLOWS) {
      this.log.debug(`${this.client.address}: flow ${flowId} rejected (metadata ${metadata.toString('hex')})`);
      return null;
    }
    const flow: RtmfpRecvFlow = new RtmfpRecvFlow(flowId, metadata, returnFlowId, (message) => this.onFlowMessage(flow, message));
    if (kind.kind === 'tc') {
      if (kind.streamId === 0) {
        if (this.streamFlows.has(0)) {
          return null;
        }
        this.streamFlows.set(0, { control: this.openSendFlow(tcMetadata(0), flowId), audio: null, video: null, clientFlowId: flowId });
      } else if (!this.streamFlows.has(kind.streamId)) {
        this.streamFlows.set(kind.streamId, {
          control: this.openSendFlow(tcMetadata(kind.streamId), flowId),
          audio: null,
          video: null,
          clientFlowId: flowId,
        });
      }
    }
    this.recvFlows.set(flowId, flow);
    return flow;
  }

  openSendFlow(metadata: Buffer, returnFlowId: number): RtmfpSendFlow {
    const flow = new RtmfpSendFlow(this.nextSendFlowId++, metadata, returnFlowId, this.congestion);
    this.sendFlows.push(flow);
    return flow;
  }

  /** The GC send flow answering a client's GC flow (created on first use). */
  groupSendFlow(clientFlowId: number): RtmfpSendFlow {
    for (const flow of this.sendFlows) {
      if (flow.associatedFlowId === clientFlowId && flow.metadata === GROUP_METADATA) {
        return flow;
      }
    }
    return this.openSendFlow(GROUP_METADATA, clientFlowId);
  }

  /** A flow ended (FIN received and everything delivered). */
  onRecvFlowComplete(flow: RtmfpRecvFlow): void {
    this.recvFlows.delete(flow.id);
    const kind = classifyFlow(flow.metadata);
    if (kind?.kind === 'group') {
      this.host.onGroupFlowClosed(this, flow);
    } else if (kind?.kind === 'tc' && kind.streamId === 0) {
      this.close('NetConnection flow closed by the client');
    }
  }

  private onFlowMessage(flow: RtmfpRecvFlow, message: Buffer): void {
    if (this.pending !== null) {
      if (this.pending.length >= MAX_PENDING) {
        throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'too many messages while a command is pending');
      }
      this.pending.push({ flow, message });
      return;
    }
    this.dispatch(flow, message);
  }

  private dispatch(flow: RtmfpRecvFlow, message: Buffer): void {
    const kind = classifyFlow(flow.metadata);
    if (kind === null) {
      return;
    }
    if (kind.kind === 'group') {
      this.host.onGroupMessage(this, flow, message);
      return;
    }
    if (message.length < TC_HEADER_SIZE) {
      throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', `message of ${message.length} bytes on flow ${flow.id}`);
    }
    const type = message[0];
    const timestamp = message.readUInt32BE(1);
    const body = message.subarray(TC_HEADER_SIZE);
    if (type === TcType.COMMAND_AMF0 || type === TcType.COMMAND_AMF3) {
      const values = new AmfReader(body, type === TcType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
      if (values[0] === 'setPeerInfo') {
        this.onSetPeerInfo(values.slice(3));
        return;
      }
      const work = this.connection.onCommand(kind.streamId, values);
      if (work !== null) {
        this.waitFor(work);
      }
      return;
    }
    if (type === TcType.USER_CONTROL) {
      return;
    }
    const stream = this.connection.streams.get(kind.streamId);
    if (stream === undefined || !stream.onMedia(type, timestamp, body)) {
      this.log.debug(`${this.client.address}: message type ${type} ignored on stream ${kind.streamId}`);
    }
  }

  /** Holds later messages until a hook's answer, so commands and media keep their order. */
  private waitFor(work: Promise<void>): void {
    this.pending = [];
    work
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        const queue = this.pending ?? [];
        this.pending = null;
        for (let i = 0; i < queue.length && !this.closed; i++) {
          if (this.pending !== null) {
            (this.pending as Array<{ flow: RtmfpRecvFlow; message: Buffer }>).push(queue[i]);
            continue;
          }
          try {
            this.dispatch(queue[i].flow, queue[i].message);
          } catch (err) {
            this.fail(err);
          }
        }
        this.host.schedule(this);
      });
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
    this.reportedAddresses = addresses;
    const { keepaliveServerMs, keepalivePeerMs } = this.host.settings;
    this.mainFlow()?.write(encodeUserControl(TcUserControl.SET_KEEPALIVE, keepaliveServerMs, keepalivePeerMs), true, Date.now());
    if (!this.rendezvousReady && this.client.state === 'connected') {
      this.rendezvousReady = true;
      this.host.onRendezvousReady(this);
    }
  }

  mainFlow(): RtmfpSendFlow | null {
    return this.streamFlows.get(0)?.control ?? null;
  }

  // FlashTransport

  writeCommand(streamId: number, payload: Buffer): void {
    const flows = this.streamFlows.get(streamId) ?? this.streamFlows.get(0);
    if (flows === undefined || this.closed) {
      return;
    }
    const message =
      this.objectEncoding === 3
        ? encodeTcMessage(TcType.COMMAND_AMF3, 0, Buffer.concat([Buffer.alloc(1), payload]))
        : encodeTcMessage(TcType.COMMAND_AMF0, 0, payload);
    flows.control.write(message, true, Date.now());
    this.host.schedule(this);
  }

  writeData(streamId: number, payload: Buffer): void {
    const flows = this.streamFlows.get(streamId);
    if (flows !== undefined && !this.closed) {
      flows.control.write(encodeTcMessage(TcType.DATA_AMF0, 0, payload), true, Date.now());
      this.host.schedule(this);
    }
  }

  writeUserControl(event: number, streamId: number): void {
    const flows = this.streamFlows.get(streamId);
    if (flows !== undefined && !this.closed) {
      flows.control.write(encodeUserControl(event, streamId), true, Date.now());
      this.host.schedule(this);
    }
  }

  writeFrame(streamId: number, frame: MediaFrame): void {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || this.closed) {
      return;
    }
    // The TC message is the same for every subscriber: built once per frame.
    const message = frame.encoded('rtmfp:tc', (f) => encodeTcMessage(f.kind === FrameKind.DATA ? FlashType.DATA_AMF0 : f.kind, f.timestamp, f.payload));
    const now = Date.now();
    if (frame.kind === FrameKind.DATA || frame.isConfig) {
      // Metadata and decoder configurations must arrive: reliable, on the control flow.
      flows.control.write(message, true, now);
    } else if (frame.kind === FrameKind.AUDIO) {
      flows.audio ??= this.openSendFlow(tcMetadata(streamId), flows.clientFlowId);
      flows.audio.write(message, false, now, this.host.settings.mediaDeadlineMs);
    } else {
      flows.video ??= this.openSendFlow(tcMetadata(streamId), flows.clientFlowId);
      flows.video.write(message, false, now, this.host.settings.mediaDeadlineMs);
    }
    this.host.schedule(this);
  }

  queuedBytes(streamId: number): number {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined) {
      return 0;
    }
    return flows.control.queuedBytes + (flows.audio?.queuedBytes ?? 0) + (flows.video?.queuedBytes ?? 0);
  }

  onStreamClosed(streamId: number): void {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || streamId === 0) {
      return;
    }
    flows.audio?.finish();
    flows.video?.finish();
    flows.audio = null;
    flows.video = null;
  }

  // ClientWriter

  writeInvocation(name: string, ...args: unknown[]): void {
    this.writeCommand(0, invocation(name, ...args));
  }

  writeMessage(...args: unknown[]): void {
    this.writeCommand(0, invocation('onMessage', ...args));
  }

  /** Periodic work from the protocol's tick: timeouts, close repeats, delayed acks, retransmissions. */
  tick(now: number): void {
    if (this.closed) {
      if (this.closeRepeats++ < CLOSE_REPEATS) {
        this.output.sendClose(false, now);
      } else {
        this.host.onClosed(this);
      }
      return;
    }
    const timeout = this.host.settings.timeoutMs;
    if (timeout > 0 && now - this.lastReceptionAt > timeout) {
      this.close(`nothing received for ${timeout / 1000} s (RTMFP.timeout)`);
      return;
    }
    for (const flow of this.sendFlows) {
      if (flow.failure !== null && flow === this.mainFlow()) {
        this.close(`NetConnection flow failed: ${flow.failure}`);
        return;
      }
    }
    this.output.flush(now, true);
  }

  private fail(err: unknown): void {
    this.close(err instanceof ProtocolError ? `protocol error: ${err.message}` : `error: ${errorMessage(err)}`);
  }

  /**
   * Ends the session: streams stop, the client leaves the core, and a Session Close Request is
   * repeated a few ticks (`graceful` first lets queued reliable messages, e.g. a rejection, go out).
   */
  close(reason = 'closed by the server', graceful = false): void {
    if (this.closed) {
      return;
    }
    if (graceful) {
      this.output.flush(Date.now(), false);
    }
    this.closed = true;
    const level = reason.startsWith('protocol error') || reason.startsWith('error') ? 'warn' : 'info';
    this.log[level](`${this.client.address}: RTMFP session closed: ${reason}`);
    this.connection.close();
    for (const flow of this.recvFlows.values()) {
      if (classifyFlow(flow.metadata)?.kind === 'group') {
        this.host.onGroupFlowClosed(this, flow);
      }
    }
    this.core.disconnect(this.client);
    this.output.sendClose(false, Date.now());
  }

  /** The peer closed (0x0C) or acknowledged our close (0x4C): forget the session now. */
  drop(reason: string, ackClose: boolean): void {
    if (ackClose) {
      this.output.sendClose(true, Date.now());
    }
    if (!this.closed) {
      this.closed = true;
      this.log.info(`${this.client.address}: RTMFP session closed: ${reason}`);
      this.connection.close();
      for (const flow of this.recvFlows.values()) {
        if (classifyFlow(flow.metadata)?.kind === 'group') {
          this.host.onGroupFlowClosed(this, flow);
        }
      }
      this.core.disconnect(this.client);
    }
    this.host.onClosed(this);
  }
}
