import { RTMFP_CONTENT_OFFSET, RTMFP_MAX_CONTENT } from '../../kernels/Kernels.js';
import type { RtmfpRecvFlow } from './flows/RtmfpRecvFlow.js';
import type { RtmfpSendFlow } from './flows/RtmfpSendFlow.js';
import { Chunk, HeaderFlag, Mode, timestampOf, writePacketHeader } from './RtmfpPacket.js';
import type { RtmfpEndpoint } from './RtmfpEndpoint.js';
import { WireContext } from '../WireContext.js';
import {
  nextUserDataHeaderLength, userDataHeaderLength, writeFlowException, writeNextUserDataHeader, writePing, writeRangeAck,
  writeSessionClose, writeUserDataHeader,
} from './sessionChunks.js';

/** Header flags: servers send time-critical-reverse as Cumulus and MonaServer do, clients time-critical as Flash. */
const flagsFor = (mode: number): number => (mode === Mode.RESPONDER ? HeaderFlag.TIME_CRITICAL_REVERSE : HeaderFlag.TIME_CRITICAL) | mode;
/** Content limit of one packet. */
const LIMIT = RTMFP_CONTENT_OFFSET + RTMFP_MAX_CONTENT;
/** Packets one flush may send before yielding (the next flush or tick continues). */
const MAX_PACKETS_PER_FLUSH = 64;
/** Delayed acks wait at most this long (RFC 7016 suggests 200 ms). */
const ACK_DELAY_MS = 50;
const MAX_QUEUED_CONTROL = 64;

/**
 * The sending half of a session: assembles packets from acks, small control chunks and the
 * flows' fragments (round robin across flows, up to the congestion window the flows consult),
 * then seals each with the session key through the kernels and sends it. One packet is built at
 * a time per thread: in the thread's `WireContext` scratch, or in the send batch's next slot when
 * the endpoint offers one (`packetBuffer`).
 */
export class RtmfpSessionOutput {
  private readonly ackDue = new Set<RtmfpRecvFlow>();
  private readonly delayedAcks = new Map<RtmfpRecvFlow, number>();
  /** Encoded chunks waiting for the next packet (ping replies, flow exceptions, FIHello). */
  private readonly control: Buffer[] = [];
  private roundRobin = 0;
  packetsSent = 0;
  /** Where the packet being built is: set per packet (`header`). */
  private packet: Buffer;

  /**
   * `wire`: the packet-path state of the thread the session runs on; an endpoint built without
   * one gets its own.
   */
  constructor(
    private readonly session: RtmfpEndpoint,
    private readonly wire: WireContext = new WireContext(),
  ) {
    this.packet = wire.packetScratch;
  }

  ackNow(flow: RtmfpRecvFlow): void {
    this.delayedAcks.delete(flow);
    this.ackDue.add(flow);
  }

  ackLater(flow: RtmfpRecvFlow, now: number): void {
    if (!this.ackDue.has(flow) && !this.delayedAcks.has(flow)) {
      this.delayedAcks.set(flow, now + ACK_DELAY_MS);
    }
  }

  private queueControl(chunk: Buffer): void {
    if (this.control.length < MAX_QUEUED_CONTROL) {
      this.control.push(chunk);
      this.session.requestFlush();
    }
  }

  queuePingReply(data: Buffer): void {
    const chunk = Buffer.allocUnsafe(3 + data.length);
    writePing(chunk, 0, Chunk.PING_REPLY, data);
    this.queueControl(chunk);
  }

  rejectFlow(flowId: number): void {
    const chunk = Buffer.allocUnsafe(16);
    this.queueControl(chunk.subarray(0, writeFlowException(chunk, 0, flowId, 0)));
  }

  /** A ready-made chunk (e.g. a forwarded IHello for rendezvous). */
  queueChunk(chunk: Buffer): void {
    this.queueControl(chunk);
  }

  /** Sends a Session Close Request (0x0C) or Acknowledgement (0x4C) at once, alone in its packet. */
  sendClose(ack: boolean, now: number): void {
    const start = this.header(now);
    this.seal(writeSessionClose(this.packet, start, ack));
  }

  /**
   * Sends what is ready: acks (delayed ones too when `includeDelayed` or when due), control
   * chunks, then flow data while the flows have sendable fragments.
   */
  flush(now: number, includeDelayed: boolean): void {
    if (this.session.closed) {
      return;
    }
    for (const [flow, due] of this.delayedAcks) {
      if (includeDelayed || due <= now) {
        this.delayedAcks.delete(flow);
        this.ackDue.add(flow);
      }
    }
    for (let n = 0; n < MAX_PACKETS_PER_FLUSH; n++) {
      const start = this.header(now);
      let o = this.writeAcks(start);
      o = this.writeControl(o);
      o = this.writeUserData(o, now);
      if (o === start) {
        return;
      }
      this.seal(o);
    }
    // More to send than one flush allows: continue on the next turn.
    this.session.requestFlush();
  }

  /** Starts a packet: where it is built, and its header. Returns where the chunks start. */
  private header(now: number): number {
    const packet = this.session.packetBuffer?.() ?? this.wire.packetScratch;
    this.packet = packet;
    return this.writeHeader(packet, RTMFP_CONTENT_OFFSET, now);
  }

  /** This session's packet header (flags, timestamp, echo) at `buf[offset...]`; returns its end. */
  writeHeader(buf: Buffer, offset: number, now: number): number {
    const input = this.session.input;
    let echo = -1;
    if (input.peerTimestamp >= 0 && now - input.peerTimestampAt < 128_000) {
      echo = (input.peerTimestamp + Math.floor((now - input.peerTimestampAt) / 4)) & 0xffff;
    }
    // Always send a timestamp: librtmfp misparses packets without one (rtmfp.md §8.12).
    return writePacketHeader(buf, offset, flagsFor(this.session.mode), timestampOf(now), echo);
  }

  /** Counts a packet that left through the fan-out (RtmfpFanOut). */
  countFanOutPacket(): void {
    this.packetsSent++;
  }

  private writeAcks(o: number): number {
    const { ackRangeFrom: rangeFrom, ackRangeTo: rangeTo } = this.wire;
    const packet = this.packet;
    for (const flow of this.ackDue) {
      const count = flow.ackRanges(rangeFrom, rangeTo, rangeFrom.length);
      // Worst case: header 3, three 5-byte VLUs, two per range.
      if (LIMIT - o < 18 + count * 10) {
        break;
      }
      o = writeRangeAck(packet, o, flow.id, flow.bufferBlocksAvailable, flow.cumulative, rangeFrom, rangeTo, count);
      flow.unacked = 0;
      this.ackDue.delete(flow);
    }
    return o;
  }

  private writeControl(o: number): number {
    while (this.control.length > 0 && LIMIT - o >= this.control[0].length) {
      const chunk = this.control.shift()!;
      this.packet.set(chunk, o);
      o += chunk.length;
    }
    return o;
  }

  private writeUserData(o: number, now: number): number {
    const flows = this.session.sendFlows;
    const count = flows.length;
    if (count === 0) {
      return o;
    }
    let previous: RtmfpSendFlow | null = null;
    let previousSeq = -1;
    let previousFsn = -1;
    // Flows already in this packet carry their options once: marked with the packet's number, no Set per packet.
    const packetMark = ++this.wire.packetNumber;
    const packet = this.packet;
    let progress = true;
    while (progress) {
      progress = false;
      for (let k = 0; k < count; k++) {
        const flow = flows[(this.roundRobin + k) % count];
        const fragment = flow.nextFragment(now);
        if (fragment === null) {
          continue;
        }
        const options = flow.optionsAcked || flow.packetMark === packetMark ? null : flow.options;
        const optionsLength = options === null ? 0 : options.length;
        const fsn = flow.fsn;
        const next = previous === flow && fragment.seq === previousSeq + 1 && fsn === previousFsn;
        const fsnOffset = fragment.seq - fsn;
        const headerLength = next ? nextUserDataHeaderLength(optionsLength) : userDataHeaderLength(flow.id, fragment.seq, fsnOffset, optionsLength);
        const length = fragment.data.length;
        if (LIMIT - o < headerLength + length) {
          continue;
        }
        o = next
          ? writeNextUserDataHeader(packet, o, fragment.flags, options, length)
          : writeUserDataHeader(packet, o, fragment.flags, flow.id, fragment.seq, fsnOffset, options, length);
        packet.set(fragment.data, o);
        o += length;
        flow.markSent(fragment, now);
        flow.packetMark = packetMark;
        previous = flow;
        previousSeq = fragment.seq;
        previousFsn = fsn;
        progress = true;
      }
    }
    this.roundRobin = (this.roundRobin + 1) % count;
    this.pruneFinishedFlows();
    return o;
  }

  /** Send flows that finished and were fully acked are forgotten. */
  private pruneFinishedFlows(): void {
    const flows = this.session.sendFlows;
    for (let i = flows.length - 1; i >= 0; i--) {
      const flow = flows[i];
      if ((flow.closed && flow.idle) || flow.failure !== null) {
        if (flow !== this.session.mainFlow()) {
          flows.splice(i, 1);
        }
      }
    }
  }

  /** Has the packet being built, up to `end`, padded, checksummed, encrypted and sent. */
  private seal(end: number): void {
    this.session.sendPacket(this.packet, end);
    this.packetsSent++;
  }
}
