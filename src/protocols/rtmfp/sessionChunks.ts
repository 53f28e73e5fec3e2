/**
 * Session chunks (RFC 7016 §2.3.9-2.3.18, rtmfp.md §1.3, §3.3): Ping 0x01 / Ping Reply 0x41, User
 * Data 0x10 / Next User Data 0x11 with their options, Range Ack 0x51 and Bitmap Ack 0x50 (read
 * into the same ranges form), Buffer Probe 0x18, Flow Exception 0x5E, Session Close 0x0C / Close
 * Ack 0x4C.
 *
 * These are on the per-packet path: readers fill reusable fixed-shape objects with numbers and
 * offsets (no views, no allocation) and return false on malformed input; writers write into the
 * caller's packet buffer and return the offset after what they wrote. The module keeps no state:
 * each reader's position (and option reader) is in the object the caller owns and passes in (one
 * set per thread: `WireContext`).
 */
import { OptionReader, OptionsEnd, optionLength, writeOption } from './options.js';
import { CHUNK_HEADER_SIZE, Chunk, writeChunkHeader } from './RtmfpPacket.js';
import { type VluCursor, readVlu, vluLength, writeVlu } from './vlu.js';

export const UserDataFlag = {
  OPTIONS: 0x80,
  FRAGMENT_MASK: 0x30,
  /** First fragment of a message (Cumulus "WITH_AFTERPART"). */
  FRAGMENT_BEGIN: 0x10,
  /** Last fragment ("WITH_BEFOREPART"). */
  FRAGMENT_END: 0x20,
  FRAGMENT_MIDDLE: 0x30,
  ABANDON: 0x02,
  FINAL: 0x01,
} as const;

/** User data option types (rtmfp.md §3.1). */
export const FlowOption = {
  METADATA: 0x00,
  RETURN_ASSOCIATION: 0x0a,
  /** Unknown options below this type mean the flow must be rejected. */
  MANDATORY_CUTOFF: 0x2000,
} as const;

/** One User Data chunk; for 0x11 the previous chunk's fields carry over (`readNextUserData`). */
export class UserDataChunk implements VluCursor {
  /** Read position while a reader fills this chunk (its cursor). */
  pos = 0;
  /** Walks the chunk's option list. */
  readonly options = new OptionReader();
  flags = 0;
  /** -1 until a 0x10 chunk was read in the current packet (see `clear`). */
  flowId = -1;
  sequence = 0;
  fsnOffset = 0;
  /** Option list, marker excluded; `optionsStart === optionsEnd` when there is none. */
  optionsStart = 0;
  optionsEnd = 0;
  dataStart = 0;
  dataEnd = 0;

  /** Call at the start of every packet: a 0x11 chunk is only valid after a 0x10 in the same packet. */
  clear(): void {
    this.flowId = -1;
  }

  /** Forward sequence number: everything up to it is delivered or abandoned. */
  get forwardSequence(): number {
    return this.sequence - this.fsnOffset;
  }
}

function readFlagsOptionsData(buf: Uint8Array, end: number, flags: number, out: UserDataChunk): boolean {
  out.flags = flags;
  out.optionsStart = out.optionsEnd = out.pos;
  if ((flags & UserDataFlag.OPTIONS) !== 0) {
    const r = out.options.reset(buf, out.pos, end);
    while (r.next()) {
      // walk to the marker
    }
    if (r.ended !== OptionsEnd.MARKER) {
      return false;
    }
    out.optionsEnd = r.pos - 1;
    out.pos = r.pos;
  }
  out.dataStart = out.pos;
  out.dataEnd = end;
  return true;
}

/** Reads a 0x10 chunk payload `buf[start, end)` into `out`. */
export function readUserData(buf: Uint8Array, start: number, end: number, out: UserDataChunk): boolean {
  if (start >= end) {
    return false;
  }
  const flags = buf[start];
  out.pos = start + 1;
  const flowId = readVlu(buf, end, out);
  const sequence = flowId < 0 ? -1 : readVlu(buf, end, out);
  const fsnOffset = sequence < 0 ? -1 : readVlu(buf, end, out);
  if (fsnOffset < 0 || fsnOffset > sequence || !readFlagsOptionsData(buf, end, flags, out)) {
    out.flowId = -1;
    return false;
  }
  out.flowId = flowId;
  out.sequence = sequence;
  out.fsnOffset = fsnOffset;
  return true;
}

/** Reads a 0x11 chunk: same flow as `out`, sequence + 1, same forward sequence number. */
export function readNextUserData(buf: Uint8Array, start: number, end: number, out: UserDataChunk): boolean {
  if (start >= end || out.flowId < 0) {
    return false;
  }
  out.pos = start + 1;
  if (!readFlagsOptionsData(buf, end, buf[start], out)) {
    out.flowId = -1;
    return false;
  }
  out.sequence++;
  out.fsnOffset++;
  return true;
}

/** The options of a flow's first chunk, decoded; reuse one instance. */
export class FlowOptions {
  /** Flow metadata ("TC\x04\x00", "GC"...) as offsets into the packet; -1 when absent. */
  metadataStart = -1;
  metadataEnd = -1;
  /** The peer's flow this one answers, or -1. */
  returnFlowId = -1;
  /** An option type below 0x2000 we do not understand: the flow must be rejected (0x5E). */
  unknownMandatory = false;
  /** Walks the option list. */
  readonly reader = new OptionReader();
}

/** Decodes `buf[start, end)` (`UserDataChunk.optionsStart/End`) into `out`; false if malformed. */
export function readFlowOptions(buf: Uint8Array, start: number, end: number, out: FlowOptions): boolean {
  out.metadataStart = out.metadataEnd = out.returnFlowId = -1;
  out.unknownMandatory = false;
  const r = out.reader.reset(buf, start, end);
  while (r.next()) {
    if (r.type === FlowOption.METADATA) {
      out.metadataStart = r.valueStart;
      out.metadataEnd = r.valueEnd;
    } else if (r.type === FlowOption.RETURN_ASSOCIATION) {
      out.returnFlowId = r.valueVlu();
    } else if (r.type < FlowOption.MANDATORY_CUTOFF) {
      out.unknownMandatory = true;
    }
  }
  return r.ended !== OptionsEnd.MALFORMED;
}

/** The option list of a flow's first chunks (marker included); built once per flow. */
export function encodeFlowOptions(metadata: Uint8Array | null, returnFlowId: number): Buffer {
  const association = returnFlowId >= 0 ? Buffer.allocUnsafe(vluLength(returnFlowId)) : null;
  if (association !== null) {
    writeVlu(association, 0, returnFlowId);
  }
  const size =
    (metadata === null ? 0 : optionLength(FlowOption.METADATA, metadata.length)) +
    (association === null ? 0 : optionLength(FlowOption.RETURN_ASSOCIATION, association.length)) +
    1;
  const buf = Buffer.allocUnsafe(size);
  let o = metadata === null ? 0 : writeOption(buf, 0, FlowOption.METADATA, metadata);
  o = association === null ? o : writeOption(buf, o, FlowOption.RETURN_ASSOCIATION, association);
  buf[o] = 0;
  return buf;
}

/** Bytes of a 0x10 chunk before its data (chunk header included), for fragment sizing. */
export const userDataHeaderLength = (flowId: number, sequence: number, fsnOffset: number, optionsLength: number): number =>
  CHUNK_HEADER_SIZE + 1 + vluLength(flowId) + vluLength(sequence) + vluLength(fsnOffset) + optionsLength;

/** Bytes of a 0x11 chunk before its data. */
export const nextUserDataHeaderLength = (optionsLength: number): number => CHUNK_HEADER_SIZE + 1 + optionsLength;

/**
 * Writes a 0x10 chunk header for `dataLength` bytes of data; returns the offset where the data
 * goes. `options` is an encoded list with its marker (`encodeFlowOptions`) or null; the OPTIONS
 * flag follows it.
 */
export function writeUserDataHeader(
  buf: Uint8Array,
  offset: number,
  flags: number,
  flowId: number,
  sequence: number,
  fsnOffset: number,
  options: Uint8Array | null,
  dataLength: number,
): number {
  const optionsLength = options === null ? 0 : options.length;
  const length = userDataHeaderLength(flowId, sequence, fsnOffset, optionsLength) - CHUNK_HEADER_SIZE + dataLength;
  let o = writeChunkHeader(buf, offset, Chunk.USER_DATA, length);
  buf[o++] = options === null ? flags & ~UserDataFlag.OPTIONS : flags | UserDataFlag.OPTIONS;
  o = writeVlu(buf, o, flowId);
  o = writeVlu(buf, o, sequence);
  o = writeVlu(buf, o, fsnOffset);
  if (options !== null) {
    buf.set(options, o);
    o += optionsLength;
  }
  return o;
}

/** Writes a 0x11 chunk header (previous flow, sequence + 1, same FSN); returns the data offset. */
export function writeNextUserDataHeader(buf: Uint8Array, offset: number, flags: number, options: Uint8Array | null, dataLength: number): number {
  const optionsLength = options === null ? 0 : options.length;
  let o = writeChunkHeader(buf, offset, Chunk.NEXT_USER_DATA, 1 + optionsLength + dataLength);
  buf[o++] = options === null ? flags & ~UserDataFlag.OPTIONS : flags | UserDataFlag.OPTIONS;
  if (options !== null) {
    buf.set(options, o);
    o += optionsLength;
  }
  return o;
}

/** Received ranges kept per ack: beyond this the rest is ignored (`rangesTruncated`). */
export const MAX_ACK_RANGES = 64;

/**
 * An acknowledgement, from 0x51 or converted from 0x50: everything up to `cumulativeAck` is
 * received, plus the inclusive sequence ranges `[rangeFrom[i], rangeTo[i]]` for i < rangeCount.
 */
export class AckChunk implements VluCursor {
  /** Read position while a reader fills this ack (its cursor). */
  pos = 0;
  flowId = 0;
  /** Receive window in 1024-byte blocks; 0 = closed (not a failure: probe with 0x18). */
  bufferBlocks = 0;
  cumulativeAck = 0;
  rangeCount = 0;
  readonly rangeFrom = new Float64Array(MAX_ACK_RANGES);
  readonly rangeTo = new Float64Array(MAX_ACK_RANGES);
  rangesTruncated = false;
}

function readAckHead(buf: Uint8Array, start: number, end: number, out: AckChunk): boolean {
  out.pos = start;
  const flowId = readVlu(buf, end, out);
  const bufferBlocks = flowId < 0 ? -1 : readVlu(buf, end, out);
  const cumulativeAck = bufferBlocks < 0 ? -1 : readVlu(buf, end, out);
  if (cumulativeAck < 0) {
    return false;
  }
  out.flowId = flowId;
  out.bufferBlocks = bufferBlocks;
  out.cumulativeAck = cumulativeAck;
  out.rangeCount = 0;
  out.rangesTruncated = false;
  return true;
}

/** Reads a 0x51 payload. A truncated trailing range pair is ignored, as rtmfp-cpp does. */
export function readRangeAck(buf: Uint8Array, start: number, end: number, out: AckChunk): boolean {
  if (!readAckHead(buf, start, end, out)) {
    return false;
  }
  let last = out.cumulativeAck;
  while (out.pos < end) {
    const holesMinusOne = readVlu(buf, end, out);
    const receivedMinusOne = holesMinusOne < 0 ? -1 : readVlu(buf, end, out);
    if (receivedMinusOne < 0) {
      break;
    }
    if (out.rangeCount === MAX_ACK_RANGES) {
      out.rangesTruncated = true;
      break;
    }
    const from = last + holesMinusOne + 2;
    last = from + receivedMinusOne;
    if (last > Number.MAX_SAFE_INTEGER) {
      return false;
    }
    out.rangeFrom[out.rangeCount] = from;
    out.rangeTo[out.rangeCount] = last;
    out.rangeCount++;
  }
  return true;
}

/**
 * Reads a 0x50 payload into ranges. Bit k (LSB first) of bitmap byte j stands for sequence
 * `cumulativeAck + 2 + 8j + k` (cumulativeAck + 1 is missing by definition; MonaServer2's
 * conversion to 0x51 reads it the same way).
 */
export function readBitmapAck(buf: Uint8Array, start: number, end: number, out: AckChunk): boolean {
  if (!readAckHead(buf, start, end, out)) {
    return false;
  }
  let seq = out.cumulativeAck + 2;
  let open = false;
  for (let j = out.pos; j < end; j++) {
    for (let bits = buf[j], k = 0; k < 8; k++, bits >>= 1, seq++) {
      if ((bits & 1) !== 0) {
        if (!open) {
          if (out.rangeCount === MAX_ACK_RANGES) {
            out.rangesTruncated = true;
            return true;
          }
          out.rangeFrom[out.rangeCount] = seq;
          out.rangeCount++;
          open = true;
        }
        out.rangeTo[out.rangeCount - 1] = seq;
      } else {
        open = false;
      }
    }
  }
  return true;
}

/**
 * Writes a 0x51 chunk: `count` received ranges beyond `cumulativeAck`, ascending and disjoint,
 * none adjacent to the cumulative point or to each other.
 */
export function writeRangeAck(
  buf: Uint8Array,
  offset: number,
  flowId: number,
  bufferBlocks: number,
  cumulativeAck: number,
  rangeFrom: ArrayLike<number> | null = null,
  rangeTo: ArrayLike<number> | null = null,
  count = 0,
): number {
  let o = writeVlu(buf, offset + CHUNK_HEADER_SIZE, flowId);
  o = writeVlu(buf, o, bufferBlocks);
  o = writeVlu(buf, o, cumulativeAck);
  let last = cumulativeAck;
  for (let i = 0; i < count && rangeFrom !== null && rangeTo !== null; i++) {
    o = writeVlu(buf, o, rangeFrom[i] - last - 2);
    o = writeVlu(buf, o, rangeTo[i] - rangeFrom[i]);
    last = rangeTo[i];
  }
  writeChunkHeader(buf, offset, Chunk.RANGE_ACK, o - offset - CHUNK_HEADER_SIZE);
  return o;
}

/** Reads a 0x18 payload with the caller's `cursor`: the flow ID, or -1. */
export function readBufferProbe(buf: Uint8Array, start: number, end: number, cursor: VluCursor): number {
  cursor.pos = start;
  return readVlu(buf, end, cursor);
}

export function writeBufferProbe(buf: Uint8Array, offset: number, flowId: number): number {
  const o = writeChunkHeader(buf, offset, Chunk.BUFFER_PROBE, vluLength(flowId));
  return writeVlu(buf, o, flowId);
}

/** A 0x5E report; reuse one instance. */
export class FlowException implements VluCursor {
  /** Read position while `readFlowException` fills this report (its cursor). */
  pos = 0;
  flowId = 0;
  code = 0;
}

export function readFlowException(buf: Uint8Array, start: number, end: number, out: FlowException): boolean {
  out.pos = start;
  const flowId = readVlu(buf, end, out);
  // Some senders omit the code: treat it as 0.
  const code = flowId < 0 ? -1 : out.pos < end ? readVlu(buf, end, out) : 0;
  if (code < 0) {
    return false;
  }
  out.flowId = flowId;
  out.code = code;
  return true;
}

export function writeFlowException(buf: Uint8Array, offset: number, flowId: number, code: number): number {
  const o = writeChunkHeader(buf, offset, Chunk.FLOW_EXCEPTION, vluLength(flowId) + vluLength(code));
  return writeVlu(buf, writeVlu(buf, o, flowId), code);
}

/** Ping (0x01) or Ping Reply (0x41, echoing the ping's bytes) with `data[start, end)`. */
export function writePing(buf: Uint8Array, offset: number, type: number, data: Uint8Array, start = 0, end = data.length): number {
  const o = writeChunkHeader(buf, offset, type, end - start);
  buf.set(data.subarray(start, end), o);
  return o + end - start;
}

/** Session Close Request (0x0C) or, with `ack`, Session Close Acknowledgement (0x4C). */
export const writeSessionClose = (buf: Uint8Array, offset: number, ack: boolean): number =>
  writeChunkHeader(buf, offset, ack ? Chunk.SESSION_CLOSE_ACK : Chunk.SESSION_CLOSE, 0);
