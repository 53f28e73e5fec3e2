/**
 * Writes ISO BMFF boxes (ISO 14496-12 4.2) into one growing buffer: `open` reserves the 32-bit
 * size, `close` patches it once the children are written, so nesting needs no size arithmetic
 * and no intermediate buffers. Fields are big-endian, as the format says.
 */
export class BoxWriter {
  private buf: Buffer;
  private pos = 0;
  private readonly starts: number[] = [];

  constructor(capacity = 1024) {
    this.buf = Buffer.alloc(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) {
      return;
    }
    const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** Starts a box of `type` (four characters); its size is written by the matching `close`. */
  open(type: string): this {
    this.starts.push(this.pos);
    this.u32(0);
    return this.fourCc(type);
  }

  /** Starts a full box: a box with a version byte and 24 bits of flags. */
  openFull(type: string, version: number, flags: number): this {
    this.open(type);
    this.u8(version);
    return this.u24(flags);
  }

  close(): this {
    const start = this.starts.pop();
    if (start === undefined) {
      throw new Error('BoxWriter: close without open');
    }
    this.buf.writeUInt32BE(this.pos - start, start);
    return this;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  i16(v: number): this {
    this.room(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.room(3);
    this.buf.writeUIntBE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  i32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** A 64-bit unsigned value from a non-negative safe integer (media times stay far below 2^53). */
  u64(v: number): this {
    this.u32(Math.floor(v / 0x1_0000_0000));
    return this.u32(v % 0x1_0000_0000);
  }

  fourCc(type: string): this {
    this.room(4);
    this.buf.write(type, this.pos, 4, 'latin1');
    this.pos += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Overwrites a 32-bit field written earlier (trun data offsets, known once the moof is done). */
  patchU32(at: number, v: number): this {
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  /**
   * The bytes written. A view when the buffer is mostly used (the writer must not be used
   * afterwards), else a copy, so a segment kept for minutes does not pin twice its size.
   */
  finish(): Buffer {
    if (this.starts.length > 0) {
      throw new Error('BoxWriter: unclosed box');
    }
    const view = this.buf.subarray(0, this.pos);
    return this.pos * 4 >= this.buf.length * 3 ? view : Buffer.from(view);
  }
}
