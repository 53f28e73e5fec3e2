import { RTMFP_CONTENT_OFFSET } from '../../kernels/Kernels.js';
import { readForwardedIHello } from './handshakeChunks.js';
import { Chunk, Mode, readPacketHeader } from './RtmfpPacket.js';
import type { RtmfpEndpoint } from './RtmfpEndpoint.js';
import {
  type UserDataChunk, UserDataFlag, readBitmapAck, readBufferProbe, readFlowException, readFlowOptions, readNextUserData, readRangeAck, readUserData,
} from './sessionChunks.js';
import { WireContext } from '../WireContext.js';

/** Counters of what a session dropped, for logs and tests. */
export class InputStats {
  badChecksum = 0;
  badHeader = 0;
  malformedChunks = 0;
  rejectedFlows = 0;
}

/**
 * The receiving half of a session: decrypts a datagram with the session key, checks its header,
 * and walks its chunks into the session's flows (data, acks, probes, exceptions, pings, close).
 * Malformed input is dropped and counted, never thrown. Parsing is synchronous, one packet at a
 * time per thread: the chunks are read into the thread's `WireContext` objects.
 */
export class RtmfpSessionInput {
  readonly stats = new InputStats();
  /** Peer's last header timestamp and when it arrived, for our timestamp echo. */
  peerTimestamp = -1;
  peerTimestampAt = 0;

  /**
   * `wire`: the packet-path state of the thread the session runs on; an endpoint built without
   * one gets its own.
   */
  constructor(
    private readonly session: RtmfpEndpoint,
    private readonly wire: WireContext = new WireContext(),
  ) {}

  /**
   * Decrypts and processes one datagram. Returns false if it was not a valid packet of this
   * session (bad checksum, wrong mode): nothing changed then.
   */
  receive(datagram: Buffer, now: number): boolean {
    const session = this.session;
    return this.receiveOpened(datagram, session.kernels.decryptPacket(session.keys.decryptKey, datagram, 0, datagram.length, datagram, 4), now);
  }

  /**
   * Processes a datagram already opened in place (plaintext at [4, 4 + length), as `receive`
   * leaves it; `length` < 0: it did not open). Returns false if it was not a valid packet of
   * this session.
   */
  receiveOpened(datagram: Buffer, length: number, now: number): boolean {
    const session = this.session;
    const { header, chunks, userData, ack, exception } = this.wire;
    if (length < 0) {
      this.stats.badChecksum++;
      return false;
    }
    // Plaintext: checksum at [4, 6), content from 6 to 4 + length.
    const end = 4 + length;
    if (!readPacketHeader(datagram, RTMFP_CONTENT_OFFSET, end, header) || header.mode !== (session.mode === Mode.RESPONDER ? Mode.INITIATOR : Mode.RESPONDER)) {
      this.stats.badHeader++;
      return false;
    }
    if (header.timestamp >= 0) {
      this.peerTimestamp = header.timestamp;
      this.peerTimestampAt = now;
    }
    const output = session.output;
    userData.clear();
    chunks.reset(datagram, header.chunksStart, end);
    while (chunks.next()) {
      const { start } = chunks;
      const chunkEnd = chunks.payloadEnd;
      switch (chunks.type) {
        case Chunk.USER_DATA: {
          if (readUserData(datagram, start, chunkEnd, userData)) {
            this.onUserData(datagram, now, userData);
          } else {
            this.stats.malformedChunks++;
          }
          break;
        }
        case Chunk.NEXT_USER_DATA: {
          if (readNextUserData(datagram, start, chunkEnd, userData)) {
            this.onUserData(datagram, now, userData);
          } else {
            this.stats.malformedChunks++;
          }
          break;
        }
        case Chunk.RANGE_ACK:
        case Chunk.BITMAP_ACK: {
          const ok = chunks.type === Chunk.RANGE_ACK ? readRangeAck(datagram, start, chunkEnd, ack) : readBitmapAck(datagram, start, chunkEnd, ack);
          const flow = ok ? session.sendFlows.find((f) => f.id === ack.flowId) : undefined;
          flow?.onAck(ack.cumulativeAck, ack.rangeFrom, ack.rangeTo, ack.rangeCount, ack.bufferBlocks, now);
          break;
        }
        case Chunk.BUFFER_PROBE: {
          const flowId = readBufferProbe(datagram, start, chunkEnd, this.wire.cursor);
          const flow = session.recvFlows.get(flowId);
          if (flow !== undefined) {
            output.ackNow(flow);
          }
          break;
        }
        case Chunk.FLOW_EXCEPTION: {
          if (readFlowException(datagram, start, chunkEnd, exception)) {
            session.sendFlows.find((f) => f.id === exception.flowId)?.reject(exception.code);
          }
          break;
        }
        case Chunk.PING: {
          output.queuePingReply(datagram.subarray(start, chunkEnd));
          break;
        }
        case Chunk.FORWARDED_IHELLO: {
          const hello = session.onForwardedHello === undefined ? null : readForwardedIHello(datagram, start, chunkEnd);
          if (hello !== null) {
            session.onForwardedHello?.(hello);
          }
          break;
        }
        case Chunk.SESSION_CLOSE: {
          session.drop('closed by the peer', true);
          return true;
        }
        case Chunk.SESSION_CLOSE_ACK: {
          session.drop('close acknowledged', false);
          return true;
        }
        default: {
          // Ping replies and unknown chunks need nothing (RFC 7016: ignore what you do not know).
          break;
        }
      }
    }
    if (chunks.malformed) {
      this.stats.malformedChunks++;
    }
    return true;
  }

  private onUserData(datagram: Buffer, now: number, userData: UserDataChunk): void {
    const session = this.session;
    const flowOptions = this.wire.flowOptions;
    let flow = session.recvFlows.get(userData.flowId);
    if (flow === undefined) {
      const hasOptions = (userData.flags & UserDataFlag.OPTIONS) !== 0;
      if (!hasOptions || !readFlowOptions(datagram, userData.optionsStart, userData.optionsEnd + 1, flowOptions)) {
        // Data of a flow we never saw opened (or already closed): refuse it, as MonaServer2 does.
        session.output.rejectFlow(userData.flowId);
        return;
      }
      const metadata = flowOptions.metadataStart < 0 ? Buffer.alloc(0) : Buffer.from(datagram.subarray(flowOptions.metadataStart, flowOptions.metadataEnd));
      const opened = flowOptions.unknownMandatory ? null : session.openRecvFlow(userData.flowId, metadata, flowOptions.returnFlowId);
      if (opened === null) {
        this.stats.rejectedFlows++;
        session.output.rejectFlow(userData.flowId);
        return;
      }
      flow = opened;
    }
    // The data view stays valid: each datagram is a fresh buffer that nothing else reuses.
    const data = datagram.subarray(userData.dataStart, userData.dataEnd);
    const urgent = flow.receive(userData.sequence, userData.forwardSequence, userData.flags, data);
    if (flow.failure !== null) {
      session.log.warn(`${session.label}: flow ${flow.id} rejected: ${flow.failure}`);
      session.recvFlows.delete(flow.id);
      session.output.rejectFlow(flow.id);
      return;
    }
    if (urgent || flow.unacked >= 2) {
      session.output.ackNow(flow);
    } else {
      session.output.ackLater(flow, now);
    }
    if (flow.complete) {
      session.output.ackNow(flow);
      session.onRecvFlowComplete(flow);
    }
  }

  /** A closing session still answers the peer's close request (`opened`: the plaintext length if already opened). */
  receiveWhileClosing(datagram: Buffer, opened?: number): void {
    const session = this.session;
    const { header, chunks } = this.wire;
    const length = opened ?? session.kernels.decryptPacket(session.keys.decryptKey, datagram, 0, datagram.length, datagram, 4);
    if (length < 0 || !readPacketHeader(datagram, RTMFP_CONTENT_OFFSET, 4 + length, header)) {
      return;
    }
    chunks.reset(datagram, header.chunksStart, 4 + length);
    while (chunks.next()) {
      if (chunks.type === Chunk.SESSION_CLOSE || chunks.type === Chunk.SESSION_CLOSE_ACK) {
        session.drop('closed', chunks.type === Chunk.SESSION_CLOSE);
        return;
      }
    }
  }
}
