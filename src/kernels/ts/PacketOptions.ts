/**
 * The per-key state of the RFC 7425 packet options (Kernels.ts `PacketKeyOptions`) in the TS
 * kernels: the HMAC key and tag length, the next session sequence number to send, and the window
 * of numbers received (the highest, and a bitmap of the 32 below it: bit d = highest - d seen).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type PacketKeyOptions, SEQUENCE_NUMBER_MAX_BYTES, SEQUENCE_WINDOW } from '../Kernels.js';

export class PacketOptions {
  readonly hmacKey: Buffer | null;
  readonly hmacLength: number;
  readonly sequenceNumbers: boolean;
  /** Next number to seal. */
  txSequence = 0;
  /** Highest number accepted, -1 before the first. */
  rxHighest = -1;
  rxWindow = 0;

  constructor(options: PacketKeyOptions) {
    this.hmacKey = options.hmacKey === undefined ? null : Buffer.from(options.hmacKey);
    this.hmacLength = this.hmacKey === null ? 0 : (options.hmacLength ?? 0);
    this.sequenceNumbers = options.sequenceNumbers === true;
  }

  /** Bytes in front of the content: the sequence number, then the checksum unless there is a tag. */
  front(): number {
    return (this.sequenceNumbers ? vluLength(this.txSequence) : 0) + (this.hmacKey === null ? 2 : 0);
  }

  /** Writes the first `hmacLength` bytes of the tag of `buf[start, end)` at `buf[end...]`. */
  sign(buf: Buffer, start: number, end: number): void {
    const tag = createHmac('sha256', this.hmacKey!).update(buf.subarray(start, end)).digest();
    tag.copy(buf, end, 0, this.hmacLength);
  }

  verify(buf: Buffer, start: number, end: number): boolean {
    const tag = createHmac('sha256', this.hmacKey!).update(buf.subarray(start, end)).digest();
    return timingSafeEqual(tag.subarray(0, this.hmacLength), buf.subarray(end, end + this.hmacLength));
  }

  /** Whether `n` may be accepted (not seen, not below the window). */
  fresh(n: number): boolean {
    if (n > this.rxHighest) {
      return true;
    }
    const d = this.rxHighest - n;
    return d < SEQUENCE_WINDOW && (this.rxWindow & (1 << d)) === 0;
  }

  accept(n: number): void {
    if (n > this.rxHighest) {
      const shift = n - this.rxHighest;
      this.rxWindow = shift >= SEQUENCE_WINDOW ? 1 : ((this.rxWindow << shift) | 1) >>> 0;
      this.rxHighest = n;
    } else {
      this.rxWindow = (this.rxWindow | (1 << (this.rxHighest - n))) >>> 0;
    }
  }
}

/** Bytes of the RFC 7016 VLU of `n` (7 bits per byte, big-endian, high bit = more). */
export const vluLength = (n: number): number => {
  let length = 1;
  for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) {
    length++;
  }
  return length;
};

export const writeVlu = (buf: Buffer, at: number, n: number): number => {
  const length = vluLength(n);
  let v = n;
  for (let i = length - 1; i >= 0; i--) {
    buf[at + i] = (v % 128) | (i === length - 1 ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  return at + length;
};

/** The VLU at `buf[at, end)` as `[value, next position]`, or null (truncated, longer than 7 bytes). */
export const readVlu = (buf: Uint8Array, at: number, end: number): [number, number] | null => {
  let value = 0;
  for (let i = at; i < end && i < at + SEQUENCE_NUMBER_MAX_BYTES; i++) {
    value = value * 128 + (buf[i] & 0x7f);
    if ((buf[i] & 0x80) === 0) {
      return [value, i + 1];
    }
  }
  return null;
};
