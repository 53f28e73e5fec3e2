/**
 * The writer's single growable buffer (doubling, so appends are amortised O(1)) with big-endian
 * primitives and the container depth guard shared by the AMF0 and AMF3 encoders.
 */
import { AmfEncodeError } from './AmfTypes.js';
import { U29_MAX } from './markers.js';

export class ByteSink {
  buf: Buffer;
  /** Bytes written so far; also the next write position. */
  length = 0;
  private depth = 0;

  constructor(
    initialSize: number,
    private readonly maxDepth: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(16, Math.floor(initialSize)));
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const needed = this.length + n;
    if (needed <= this.buf.length) {
      return;
    }
    let size = this.buf.length * 2;
    while (size < needed) {
      size *= 2;
    }
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  enter(): void {
    if (++this.depth > this.maxDepth) {
      throw new AmfEncodeError(`value nested deeper than ${this.maxDepth} levels (or a cycle that cannot be referenced)`);
    }
  }

  leave(): void {
    this.depth--;
  }

  resetDepth(): void {
    this.depth = 0;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.length);
    this.length += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.length);
    this.length += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.length);
    this.length += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.length);
    this.length += 8;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }

  /** AMF3 U29: 1-3 bytes of 7 bits with a continuation bit, a 4th byte of 8 bits. */
  u29(v: number): void {
    if (v < 0 || v > U29_MAX) {
      throw new AmfEncodeError(`${v} does not fit in an AMF3 U29`);
    }
    this.ensure(4);
    const b = this.buf;
    if (v < 0x80) {
      b[this.length++] = v;
    } else if (v < 0x4000) {
      b[this.length++] = (v >>> 7) | 0x80;
      b[this.length++] = v & 0x7f;
    } else if (v < 0x200000) {
      b[this.length++] = (v >>> 14) | 0x80;
      b[this.length++] = ((v >>> 7) & 0x7f) | 0x80;
      b[this.length++] = v & 0x7f;
    } else {
      b[this.length++] = (v >>> 22) | 0x80;
      b[this.length++] = ((v >>> 15) & 0x7f) | 0x80;
      b[this.length++] = ((v >>> 8) & 0x7f) | 0x80;
      b[this.length++] = v & 0xff;
    }
  }

  /**
   * Writes `text` as UTF-8 at the current position and returns its byte length. Without a known
   * `byteLength`, room for the worst case (3 bytes per UTF-16 unit) is reserved, which lets AMF0
   * back-fill a fixed-size length prefix without measuring short strings twice.
   */
  utf8(text: string, byteLength = text.length * 3): number {
    this.ensure(byteLength);
    const written = this.buf.write(text, this.length, 'utf8');
    this.length += written;
    return written;
  }

  /** Reserves a fixed-size length field to fill in later with u16At. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  u16At(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}
