/**
 * Bounds-checked big-endian reads over one input buffer, shared by the AMF0 and AMF3 decoders so
 * that a 0x11 switch continues at the same position and depth. Every read checks the remaining
 * length first: Buffer's own RangeError must never escape, and a declared length or count is
 * checked against what is left before anything is allocated for it.
 */
import { AmfParseError } from './AmfTypes.js';

export class ByteCursor {
  readonly buf: Buffer;
  offset: number;
  readonly maxDepth: number;
  /** Current container nesting, counted across AMF0 and AMF3. */
  private depth = 0;

  constructor(buffer: Buffer, offset: number, maxDepth: number) {
    this.buf = buffer;
    this.offset = offset;
    this.maxDepth = maxDepth;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  fail(message: string, at = this.offset): never {
    throw new AmfParseError(message, at);
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, what: string): void {
    if (n > this.buf.length - this.offset) {
      this.fail(`truncated ${what}: needs ${n} bytes, ${this.buf.length - this.offset} left`);
    }
  }

  /**
   * Rejects a declared element count that cannot fit in the bytes left (each element takes at
   * least `minBytes`), so a 5-byte input cannot make us loop or allocate for 4 billion elements.
   */
  checkCount(count: number, minBytes: number, what: string): void {
    if (count * minBytes > this.buf.length - this.offset) {
      this.fail(`${what} declares ${count} elements but only ${this.buf.length - this.offset} bytes are left`);
    }
  }

  enter(): void {
    if (++this.depth > this.maxDepth) {
      this.fail(`nesting deeper than ${this.maxDepth} levels`);
    }
  }

  leave(): void {
    this.depth--;
  }

  /** Forgets any nesting left over by a read that threw part-way. */
  resetDepth(): void {
    this.depth = 0;
  }

  u8(): number {
    if (this.offset >= this.buf.length) {
      this.fail('truncated input: needs 1 byte, 0 left');
    }
    return this.buf[this.offset++];
  }

  peek(): number {
    if (this.offset >= this.buf.length) {
      this.fail('truncated input: needs 1 byte, 0 left');
    }
    return this.buf[this.offset];
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  i32(): number {
    this.need(4, 'i32');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  double(): number {
    this.need(8, 'double');
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.offset += n;
  }

  /** AMF3 variable-length unsigned 29-bit integer: 7 bits per byte, the 4th byte carries 8. */
  u29(): number {
    let b = this.u8();
    if (b < 0x80) {
      return b;
    }
    let v = (b & 0x7f) << 7;
    b = this.u8();
    if (b < 0x80) {
      return v | b;
    }
    v = (v | (b & 0x7f)) << 7;
    b = this.u8();
    if (b < 0x80) {
      return v | b;
    }
    v = (v | (b & 0x7f)) << 8;
    return v | this.u8();
  }

  /** UTF-8 text of `length` bytes; malformed sequences become U+FFFD rather than failing. */
  utf8(length: number, what: string): string {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return length === 0 ? '' : this.buf.toString('utf8', start, start + length);
  }

  /** A copy of `length` bytes: the input is usually a pooled chunk buffer that will be reused. */
  bytes(length: number, what: string): Buffer {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return Buffer.from(this.buf.subarray(start, start + length));
  }
}
