/**
 * RTMP chunk serializer built for fan-out. Every message starts with a fmt 0 header (absolute
 * timestamp, no dependence on what was sent before on that csid), so one encoding of a frame can
 * be written to every subscriber; only the 4-byte message stream id may differ, and
 * `streamIdOffset`/`withStreamId` patch it. Continuation chunks are fmt 3 and repeat the extended
 * timestamp, as ffmpeg and FMS expect.
 */
import { ChunkStreamId, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE, MAX_CSID, MessageType, MIN_CSID } from './constants.js';
import type { BandwidthLimit } from './constants.js';

const basicHeaderSize = (csid: number): number => (csid < 64 ? 1 : csid < 320 ? 2 : 3);

function checkArgs(csid: number, chunkSize: number): void {
  if (!Number.isInteger(csid) || csid < MIN_CSID || csid > MAX_CSID) {
    throw new RangeError(`chunk stream id ${csid} outside ${MIN_CSID}..${MAX_CSID}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size ${chunkSize} outside 1..${MAX_CHUNK_SIZE}`);
  }
}

/** Write a basic header for `fmt`; returns the offset after it. */
function writeBasicHeader(buf: Buffer, offset: number, fmt: number, csid: number): number {
  if (csid < 64) {
    buf[offset] = (fmt << 6) | csid;
    return offset + 1;
  }
  if (csid < 320) {
    buf[offset] = fmt << 6;
    buf[offset + 1] = csid - 64;
    return offset + 2;
  }
  buf[offset] = (fmt << 6) | 1;
  buf.writeUInt16LE(csid - 64, offset + 1);
  return offset + 3;
}

/** Bytes encodeMessage produces for these parameters. */
export function encodedSize(csid: number, timestamp: number, payloadLength: number, chunkSize: number): number {
  const basic = basicHeaderSize(csid);
  const ext = timestamp >>> 0 >= EXTENDED_TIMESTAMP ? 4 : 0;
  const chunks = Math.max(1, Math.ceil(payloadLength / chunkSize));
  return basic + 11 + ext + (chunks - 1) * (basic + ext) + payloadLength;
}

/** Offset of the little-endian message stream id in a buffer from encodeMessage for `csid`. */
export function streamIdOffset(csid: number): number {
  return basicHeaderSize(csid) + 7;
}

/**
 * Encode one whole message as chunks: fmt 0 header on the first chunk, fmt 3 on the rest, the
 * extended timestamp repeated on fmt 3 chunks when timestamp >= 0xFFFFFF. Returns one Buffer.
 */
export function encodeMessage(
  csid: number,
  type: number,
  streamId: number,
  timestamp: number,
  payload: Buffer,
  chunkSize: number,
): Buffer {
  checkArgs(csid, chunkSize);
  const length = payload.length;
  if (length > 0xffffff) {
    throw new RangeError(`message of ${length} bytes exceeds the 24-bit length field`);
  }
  const ts = timestamp >>> 0;
  const extended = ts >= EXTENDED_TIMESTAMP;
  const out = Buffer.allocUnsafe(encodedSize(csid, ts, length, chunkSize));
  let p = writeBasicHeader(out, 0, 0, csid);
  out.writeUIntBE(extended ? EXTENDED_TIMESTAMP : ts, p, 3);
  out.writeUIntBE(length, p + 3, 3);
  out[p + 6] = type;
  out.writeUInt32LE(streamId >>> 0, p + 7);
  p += 11;
  if (extended) {
    out.writeUInt32BE(ts, p);
    p += 4;
  }
  let sent = 0;
  for (;;) {
    const n = Math.min(chunkSize, length - sent);
    payload.copy(out, p, sent, sent + n);
    p += n;
    sent += n;
    if (sent >= length) {
      break;
    }
    p = writeBasicHeader(out, p, 3, csid);
    if (extended) {
      out.writeUInt32BE(ts, p);
      p += 4;
    }
  }
  return out;
}

/** A copy of an encodeMessage result with its message stream id replaced (per-subscriber fan-out). */
export function withStreamId(encoded: Buffer, csid: number, streamId: number): Buffer {
  const copy = Buffer.from(encoded);
  copy.writeUInt32LE(streamId >>> 0, streamIdOffset(csid));
  return copy;
}

/*
 * Protocol control messages: csid 2, stream 0, timestamp 0. Their payloads (<= 10 bytes) fit in
 * one chunk at any chunk size we ever use (>= 128), so the chunk size argument is moot.
 */
const control = (type: number, payload: Buffer): Buffer =>
  encodeMessage(ChunkStreamId.PROTOCOL, type, 0, 0, payload, MAX_CHUNK_SIZE);

const u32 = (value: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
};

/** Set Chunk Size (type 1); the size is 31 bits. */
export function setChunkSize(size: number): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size ${size} outside 1..${MAX_CHUNK_SIZE}`);
  }
  return control(MessageType.SET_CHUNK_SIZE, u32(size));
}

/** Abort Message (type 2) for the partial message on `csid`. */
export function abort(csid: number): Buffer {
  return control(MessageType.ABORT, u32(csid));
}

/** Acknowledgement (type 3) with the bytes received so far (wrapped to 32 bits). */
export function acknowledgement(sequence: number): Buffer {
  return control(MessageType.ACK, u32(sequence));
}

/** Window Acknowledgement Size (type 5). */
export function windowAckSize(size: number): Buffer {
  return control(MessageType.WINDOW_ACK_SIZE, u32(size));
}

/** Set Peer Bandwidth (type 6). */
export function setPeerBandwidth(size: number, limitType: BandwidthLimit): Buffer {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(size >>> 0, 0);
  payload[4] = limitType;
  return control(MessageType.SET_PEER_BANDWIDTH, payload);
}

/**
 * User Control message (type 4): 2-byte event type then each value as a 4-byte big-endian field
 * (stream id for StreamBegin/EOF/Dry/IsRecorded, stream id + buffer ms for SetBufferLength,
 * timestamp for PingRequest/PingResponse).
 */
export function userControl(eventType: number, ...values: number[]): Buffer {
  const payload = Buffer.allocUnsafe(2 + 4 * values.length);
  payload.writeUInt16BE(eventType, 0);
  values.forEach((v, i) => payload.writeUInt32BE(v >>> 0, 2 + 4 * i));
  return control(MessageType.USER_CONTROL, payload);
}
