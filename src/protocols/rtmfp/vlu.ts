/**
 * RTMFP variable length unsigned integers (RFC 7016 §2.1.2, rtmfp.md §1.4): big-endian groups of
 * 7 bits, the high bit set on every byte but the last, no length limit on the wire. Not AMF3's
 * U29 (whose 4th byte carries 8 bits). Values are JS numbers: anything above 2^53 - 1 is
 * rejected when read, so no precision is ever lost silently.
 */

/** Position holder for `readVlu` (a `WireReader` is one); avoids returning a tuple per read. */
export interface VluCursor {
  pos: number;
}

/** Bytes `writeVlu` uses for `value` (0 <= value <= 2^53 - 1). */
export function vluLength(value: number): number {
  if (value < 0x80) {
    return 1;
  }
  if (value < 0x4000) {
    return 2;
  }
  if (value < 0x200000) {
    return 3;
  }
  if (value < 0x10000000) {
    return 4;
  }
  let n = 4;
  let v = Math.floor(value / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 0x80);
  }
  return n;
}

/** Writes `value` at `offset`; returns the offset after it. */
export function writeVlu(buf: Uint8Array, offset: number, value: number): number {
  if (value < 0x80) {
    buf[offset] = value;
    return offset + 1;
  }
  const n = vluLength(value);
  let v = value;
  let i = offset + n - 1;
  buf[i] = v % 0x80;
  v = Math.floor(v / 0x80);
  while (i > offset) {
    i--;
    buf[i] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  return offset + n;
}

/** A new buffer holding `value` as a VLU (setup paths only). */
export function encodeVlu(value: number): Buffer {
  const buf = Buffer.allocUnsafe(vluLength(value));
  writeVlu(buf, 0, value);
  return buf;
}

/**
 * Reads a VLU from `buf[at.pos, end)`. On success returns the value and moves `at.pos` past it;
 * returns -1 (and leaves `at.pos` alone) when the VLU is truncated or exceeds 2^53 - 1.
 * Non-minimal encodings (leading 0x80 bytes) are accepted, as every implementation does.
 */
export function readVlu(buf: Uint8Array, end: number, at: VluCursor): number {
  let pos = at.pos;
  let value = 0;
  while (pos < end) {
    const byte = buf[pos++];
    value = value * 0x80 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) {
      return -1;
    }
    if ((byte & 0x80) === 0) {
      at.pos = pos;
      return value;
    }
  }
  return -1;
}
