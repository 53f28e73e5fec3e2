import { AmfReader } from '../../amf/index.js';
import type { Kernels, PacketKey } from '../../kernels/Kernels.js';
import type { RtmfpAddress } from '../../protocols/rtmfp/address.js';
import { Congestion } from '../../protocols/rtmfp/flows/Congestion.js';
import { RtmfpRecvFlow } from '../../protocols/rtmfp/flows/RtmfpRecvFlow.js';
import { RtmfpSendFlow } from '../../protocols/rtmfp/flows/RtmfpSendFlow.js';
import type { RtmfpEndpoint } from '../../protocols/rtmfp/RtmfpEndpoint.js';
import type { ForwardedIHelloChunk } from '../../protocols/rtmfp/handshakeChunks.js';
import { Mode } from '../../protocols/rtmfp/RtmfpPacket.js';
import { RtmfpSessionInput } from '../../protocols/rtmfp/RtmfpSessionInput.js';
import { RtmfpSessionOutput } from '../../protocols/rtmfp/RtmfpSessionOutput.js';
import { WireContext } from '../../protocols/WireContext.js';
import { type FlowKind, TC_HEADER_SIZE, TcType, classifyFlow } from '../../protocols/rtmfp/tcMessage.js';
import type { Logger } from '../../util/Logger.js';

/** What a client session reports to its owner. */
export interface ClientSessionEvents {
  /** A TC command (name, transaction id, command object, args...) on NetStream `streamId`. */
  onCommand(session: RtmfpClientSession, streamId: number, values: unknown[]): void;
  /** Audio, video or data on NetStream `streamId`. */
  onMedia(session: RtmfpClientSession, streamId: number, type: number, timestamp: number, payload: Buffer): void;
  /** A user control event on NetStream `streamId`. */
  onUserControl(session: RtmfpClientSession, streamId: number, event: number, data: Buffer): void;
  /** The server introduces a peer that wants to reach us (rendezvous). */
  onForwardedHello(session: RtmfpClientSession, hello: ForwardedIHelloChunk): void;
  /** A raw message on a flow that is not TC (GC flows, P2P data flows). */
  onRawMessage(session: RtmfpClientSession, metadata: Buffer, message: Buffer): void;
  onClosed(session: RtmfpClientSession, reason: string): void;
  requestFlush(session: RtmfpClientSession): void;
  /** Every whole message, before it is decoded, with the flow it came on (tests look at flows). */
  onFlowMessage?(session: RtmfpClientSession, flowId: number, metadata: Buffer, message: Buffer): void;
  /** A flow of the peer ended (its final fragment arrived and everything before it). */
  onFlowComplete?(session: RtmfpClientSession, flowId: number): void;
}

/** Where a session's packets go instead of `sendTo` (a shared socket seals them into its batch). */
export type ClientPacketSink = (session: RtmfpClientSession, packet: Buffer, end: number) => void;

export interface ClientSessionOptions {
  /**
   * Light mode for load generators: data arriving in order is acknowledged when the delayed-ack
   * timer of the output fires (50 ms after the first unacknowledged packet, under the 200 ms RFC
   * 7016 allows) or after `MAX_UNACKED` packets, instead of every second packet; out-of-order or
   * duplicate data, buffer probes and finished flows are still acknowledged at once.
   */
  delayedAcks?: boolean;
  packetSink?: ClientPacketSink;
  /** The packet-path state of the thread (one for all the sessions of a client, or of a shared socket). */
  wire?: WireContext;
}

/** Packets of one flow received before a light-mode ack goes out anyway. */
const MAX_UNACKED = 16;
const noRanges = new Float64Array(1);

/**
 * The output of a light session (ClientSessionOptions.delayedAcks). The session does not flush
 * after every datagram received: the acks that must go at once ask for a flush here, delayed
 * ones leave on the tick, and what else needs sending asks for itself (control chunks, writes).
 */
class DelayedAckOutput extends RtmfpSessionOutput {
  constructor(
    session: RtmfpEndpoint,
    wire: WireContext,
    private readonly flushSoon: () => void,
  ) {
    super(session, wire);
  }

  override ackNow(flow: RtmfpRecvFlow): void {
    // In order (no range above the cumulative point), unfinished, and not too many waiting: later.
    if (flow.unacked > 0 && flow.unacked < MAX_UNACKED && flow.failure === null && !flow.complete && flow.ackRanges(noRanges, noRanges, 1) === 0) {
      this.ackLater(flow, Date.now());
      return;
    }
    super.ackNow(flow);
    this.flushSoon();
  }
}

/**
 * An RTMFP session seen from the client: the initiator side of the same flows, packet input and
 * output the server uses, with TC messages decoded for the client API. Flows the client opens
 * are RtmfpSendFlows it gets from `openFlow`; flows the peer opens arrive through `openRecvFlow`.
 */
export class RtmfpClientSession implements RtmfpEndpoint {
  readonly mode: number = Mode.INITIATOR;
  readonly congestion = new Congestion();
  readonly sendFlows: RtmfpSendFlow[] = [];
  readonly recvFlows = new Map<number, RtmfpRecvFlow>();
  readonly input: RtmfpSessionInput;
  readonly output: RtmfpSessionOutput;
  closed = false;
  private nextFlowId = 2;
  private main: RtmfpSendFlow | null = null;
  lastReceptionAt = Date.now();
  private readonly delayedAcks: boolean;
  private readonly packetSink: ClientPacketSink | null;

  constructor(
    readonly kernels: Kernels,
    readonly log: Logger,
    readonly keys: { farSsid: number; encryptKey: PacketKey; decryptKey: PacketKey },
    readonly address: RtmfpAddress,
    private readonly sendTo: (datagram: Buffer, address: RtmfpAddress) => void,
    private readonly events: ClientSessionEvents,
    /** Responder sessions (P2P, the peer initiated) use responder mode. */
    mode: number = Mode.INITIATOR,
    options: ClientSessionOptions = {},
  ) {
    this.mode = mode;
    this.delayedAcks = options.delayedAcks === true;
    this.packetSink = options.packetSink ?? null;
    const wire = options.wire ?? new WireContext();
    this.input = new RtmfpSessionInput(this, wire);
    this.output = this.delayedAcks ? new DelayedAckOutput(this, wire, () => this.requestFlush()) : new RtmfpSessionOutput(this, wire);
  }

  get label(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  /** Opens a send flow (the first one is the NetConnection flow, ID 2 as Flash uses). */
  openFlow(metadata: Buffer, returnFlowId = -1): RtmfpSendFlow {
    const flow = new RtmfpSendFlow(this.nextFlowId++, metadata, returnFlowId, this.congestion);
    this.sendFlows.push(flow);
    this.main ??= flow;
    return flow;
  }

  mainFlow(): RtmfpSendFlow | null {
    return this.main;
  }

  openRecvFlow(flowId: number, metadata: Buffer, returnFlowId: number): RtmfpRecvFlow | null {
    if (this.recvFlows.size >= 256) {
      return null;
    }
    // Classified once: every message of the flow is of the same kind.
    const kind = classifyFlow(metadata);
    const flow: RtmfpRecvFlow = new RtmfpRecvFlow(flowId, metadata, returnFlowId, (message) => this.onMessage(flow, kind, message));
    this.recvFlows.set(flowId, flow);
    return flow;
  }

  onRecvFlowComplete(flow: RtmfpRecvFlow): void {
    this.recvFlows.delete(flow.id);
    this.events.onFlowComplete?.(this, flow.id);
  }

  private onMessage(flow: RtmfpRecvFlow, kind: FlowKind, message: Buffer): void {
    this.events.onFlowMessage?.(this, flow.id, flow.metadata, message);
    if (kind?.kind !== 'tc') {
      this.events.onRawMessage(this, flow.metadata, message);
      return;
    }
    if (message.length < TC_HEADER_SIZE) {
      return;
    }
    const type = message[0];
    const timestamp = message.readUInt32BE(1);
    const body = message.subarray(TC_HEADER_SIZE);
    switch (type) {
      case TcType.COMMAND_AMF0:
      case TcType.COMMAND_AMF3: {
        const values = new AmfReader(body, type === TcType.COMMAND_AMF3 ? 1 : 0).readAllAmf0();
        this.events.onCommand(this, kind.streamId, values);
        return;
      }
      case TcType.USER_CONTROL: {
        if (body.length >= 2) {
          this.events.onUserControl(this, kind.streamId, body.readUInt16BE(0), body.subarray(2));
        }
        return;
      }
      default: {
        this.events.onMedia(this, kind.streamId, type, timestamp, body);
      }
    }
  }

  receive(datagram: Buffer, now: number): void {
    if (this.closed) {
      return;
    }
    if (this.input.receive(datagram, now)) {
      this.lastReceptionAt = now;
      // Light mode: the output asks for a flush when an ack must go now (DelayedAckOutput); what
      // we sent and is not acked yet may go on at once too (the ack may have opened the window).
      if (!this.delayedAcks || this.sendFlows.some((f) => !f.idle)) {
        this.requestFlush();
      }
    }
  }

  drop(reason: string, ackClose: boolean): void {
    if (ackClose) {
      this.output.sendClose(true, Date.now());
    }
    if (!this.closed) {
      this.closed = true;
      this.events.onClosed(this, reason);
    }
  }

  /** Closes from our side (0x0C, once; the peer answers 0x4C or times out). */
  close(): void {
    if (!this.closed) {
      this.output.flush(Date.now(), true);
      this.output.sendClose(false, Date.now());
      this.closed = true;
      this.events.onClosed(this, 'closed');
    }
  }

  onForwardedHello(hello: ForwardedIHelloChunk): void {
    this.events.onForwardedHello(this, hello);
  }

  sendPacket(packet: Buffer, end: number): void {
    if (this.packetSink !== null) {
      this.packetSink(this, packet, end);
      return;
    }
    const datagram = Buffer.allocUnsafe(this.kernels.sealedLength(this.keys.encryptKey, end));
    this.sendTo(datagram.subarray(0, this.kernels.encryptPacket(this.keys.encryptKey, this.keys.farSsid, packet, end, datagram, 0)), this.address);
  }

  requestFlush(): void {
    this.events.requestFlush(this);
  }

  /** The 50 ms tick: retransmissions, and the delayed acks (all of them, or in light mode those due). */
  tick(now: number): void {
    if (!this.closed) {
      this.output.flush(now, !this.delayedAcks);
    }
  }
}
