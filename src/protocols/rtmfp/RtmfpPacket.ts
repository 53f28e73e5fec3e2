/**
 * The RTMFP packet inside the encryption (rtmfp.md §1.2-1.3): `flags | [timestamp] [echo] |
 * chunk*`, each chunk `type(1) length(2, BE) payload`, then 0xFF padding. Parsing works on the
 * plaintext the kernel wrote (content starts 2 bytes after the checksum) through reusable
 * fixed-shape objects, and never throws: bad input makes a function return false / null, and the
 * caller counts it (style rule 6).
 *
 * Typical receive path of the session layer:
 * ```ts
 * const ssid = readSessionId(msg, 0);                          // demux: 0 = startup
 * const n = kernels.decryptPacket(session.decryptKey, msg, 0, msg.length, msg, 0);  // in place
 * if (n < 0 || !readPacketHeader(msg, 2, n, header) || header.mode !== Mode.INITIATOR) { count; return; }
 * for (chunks.reset(msg, header.chunksStart, n); chunks.next(); ) { switch (chunks.type) ... }
 * if (chunks.malformed) { count }
 * ```
 * and the send path: reserve `RTMFP_CONTENT_OFFSET` bytes, `writePacketHeader`, chunk writers,
 * then `kernels.encryptPacket(key, farSsid, buf, end, buf, 0)`.
 */
import { RTMFP_CONTENT_OFFSET } from '../../kernels/Kernels.js';

/** Chunk types (RFC 7016 §2.3, rtmfp.md §1.3). 0x71 is Redirect, 0x79 Cookie Change. */
export const Chunk = {
  IHELLO: 0x30,
  FORWARDED_IHELLO: 0x0f,
  RHELLO: 0x70,
  REDIRECT: 0x71,
  COOKIE_CHANGE: 0x79,
  IIKEYING: 0x38,
  RIKEYING: 0x78,
  PING: 0x01,
  PING_REPLY: 0x41,
  USER_DATA: 0x10,
  NEXT_USER_DATA: 0x11,
  BITMAP_ACK: 0x50,
  RANGE_ACK: 0x51,
  BUFFER_PROBE: 0x18,
  FLOW_EXCEPTION: 0x5e,
  SESSION_CLOSE: 0x0c,
  SESSION_CLOSE_ACK: 0x4c,
  /** Marks the padding: parsing stops here. */
  PADDING: 0xff,
} as const;

/** Header flag bits. */
export const HeaderFlag = {
  TIME_CRITICAL: 0x80,
  TIME_CRITICAL_REVERSE: 0x40,
  TIMESTAMP: 0x08,
  TIMESTAMP_ECHO: 0x04,
  MODE_MASK: 0x03,
} as const;

/** Packet mode (low 2 bits of the flags); 0 is invalid. */
export const Mode = { INITIATOR: 1, RESPONDER: 2, STARTUP: 3 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** The key of every startup packet (RFC 7425 §4.1): ASCII "Adobe Systems 02". */
export const DEFAULT_KEY: Readonly<Buffer> = Buffer.from('Adobe Systems 02', 'ascii');

export const CHUNK_HEADER_SIZE = 3;
/** Flags and both timestamps. */
export const MAX_HEADER_SIZE = 5;

/** Header timestamps tick every 4 ms (250 Hz), modulo 2^16. */
export const timestampOf = (ms: number): number => Math.floor(ms / 4) & 0xffff;

/** The session ID of a datagram: `word(0..4) ^ word(4..8) ^ word(8..12)`; -1 if too short. */
export function readSessionId(datagram: Buffer, offset: number): number {
  if (datagram.length - offset < 12) {
    return -1;
  }
  return (datagram.readUInt32BE(offset) ^ datagram.readUInt32BE(offset + 4) ^ datagram.readUInt32BE(offset + 8)) >>> 0;
}

/** A parsed header; reuse one instance per receiver. */
export class PacketHeader {
  flags = 0;
  mode = 0;
  /** -1 when absent. */
  timestamp = -1;
  /** -1 when absent. */
  timestampEcho = -1;
  /** Where the first chunk starts. */
  chunksStart = 0;
}

/**
 * Parses the header at `buf[start, end)` (start = the flags byte, 2 after the checksum). False if
 * truncated or the mode is 0. TS and TSE are honoured exactly: rtmfp-cpp sends no timestamp.
 */
export function readPacketHeader(buf: Uint8Array, start: number, end: number, out: PacketHeader): boolean {
  if (start >= end) {
    return false;
  }
  const flags = buf[start];
  let pos = start + 1;
  let timestamp = -1;
  let echo = -1;
  if ((flags & HeaderFlag.TIMESTAMP) !== 0) {
    if (end - pos < 2) {
      return false;
    }
    timestamp = (buf[pos] << 8) | buf[pos + 1];
    pos += 2;
  }
  if ((flags & HeaderFlag.TIMESTAMP_ECHO) !== 0) {
    if (end - pos < 2) {
      return false;
    }
    echo = (buf[pos] << 8) | buf[pos + 1];
    pos += 2;
  }
  const mode = flags & HeaderFlag.MODE_MASK;
  if (mode === 0) {
    return false;
  }
  out.flags = flags;
  out.mode = mode;
  out.timestamp = timestamp;
  out.timestampEcho = echo;
  out.chunksStart = pos;
  return true;
}

/**
 * Writes a header: `flags` gives the mode and TC/TCR bits; TS / TSE are set from whether
 * `timestamp` / `echo` are >= 0. Returns the offset after it.
 */
export function writePacketHeader(buf: Uint8Array, offset: number, flags: number, timestamp: number, echo: number): number {
  let f = flags & ~(HeaderFlag.TIMESTAMP | HeaderFlag.TIMESTAMP_ECHO);
  let o = offset + 1;
  if (timestamp >= 0) {
    f |= HeaderFlag.TIMESTAMP;
    buf[o++] = (timestamp >>> 8) & 0xff;
    buf[o++] = timestamp & 0xff;
  }
  if (echo >= 0) {
    f |= HeaderFlag.TIMESTAMP_ECHO;
    buf[o++] = (echo >>> 8) & 0xff;
    buf[o++] = echo & 0xff;
  }
  buf[offset] = f;
  return o;
}

/** Writes `type` and `length`; the payload follows at the returned offset. */
export function writeChunkHeader(buf: Uint8Array, offset: number, type: number, length: number): number {
  buf[offset] = type;
  buf[offset + 1] = (length >>> 8) & 0xff;
  buf[offset + 2] = length & 0xff;
  return offset + CHUNK_HEADER_SIZE;
}

/**
 * Walks the chunks of one packet; reuse one instance. `next()` is false at the end, at padding
 * (type 0xFF), or on a chunk whose header or length overruns the packet (then `malformed`).
 */
export class ChunkIterator {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  type = -1;
  /** Payload bounds of the current chunk. */
  start = 0;
  length = 0;
  malformed = false;

  reset(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.type = -1;
    this.start = start;
    this.length = 0;
    this.malformed = false;
    return this;
  }

  get payloadEnd(): number {
    return this.start + this.length;
  }

  next(): boolean {
    const { buf, pos, end } = this;
    if (pos >= end || buf[pos] === Chunk.PADDING) {
      return false;
    }
    if (end - pos < CHUNK_HEADER_SIZE) {
      this.malformed = true;
      return false;
    }
    const length = (buf[pos + 1] << 8) | buf[pos + 2];
    const start = pos + CHUNK_HEADER_SIZE;
    if (length > end - start) {
      this.malformed = true;
      return false;
    }
    this.type = buf[pos];
    this.start = start;
    this.length = length;
    this.pos = start + length;
    return true;
  }
}

/**
 * A fresh buffer for one startup packet of up to `contentCapacity` content bytes, with the
 * `RTMFP_CONTENT_OFFSET` reserve and room for padding (handshake paths, which keep the datagram).
 */
export const allocStartupPacket = (contentCapacity: number): Buffer =>
  Buffer.alloc(RTMFP_CONTENT_OFFSET + contentCapacity + 16);
