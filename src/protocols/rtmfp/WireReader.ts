/**
 * A bounds-checked cursor over one region of a packet, reused across packets (one per parser, no
 * allocation per read). Reads never throw: a read past `end` returns -1 or null, sets `failed`
 * and moves to the end, so a parser can run its reads and check `failed` once at the end.
 * Byte results are views (`subarray`) into the packet: copy what must outlive it.
 */
import { readVlu } from './vlu.js';

const EMPTY = Buffer.alloc(0);

export class WireReader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  failed = false;

  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.failed = false;
    return this;
  }

  /** Drops the reference to the last packet (so a long-lived reader does not pin it). */
  release(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private fail(): -1 {
    this.failed = true;
    this.pos = this.end;
    return -1;
  }

  u8(): number {
    return this.pos < this.end ? this.buf[this.pos++] : this.fail();
  }

  u16(): number {
    if (this.end - this.pos < 2) {
      return this.fail();
    }
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (this.end - this.pos < 4) {
      return this.fail();
    }
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  vlu(): number {
    const v = readVlu(this.buf, this.end, this);
    return v < 0 ? this.fail() : v;
  }

  /** A view of the next `n` bytes, or null. */
  bytes(n: number): Buffer | null {
    if (n < 0 || this.end - this.pos < n) {
      this.fail();
      return null;
    }
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return view;
  }

  /** A VLU length followed by that many bytes (RFC 7016 "VLU-prefixed field"), as a view. */
  field(): Buffer | null {
    const n = this.vlu();
    return n < 0 ? null : this.bytes(n);
  }

  /** A view of everything left. */
  rest(): Buffer {
    const view = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return view;
  }

  skip(n: number): boolean {
    if (n < 0 || this.end - this.pos < n) {
      this.fail();
      return false;
    }
    this.pos += n;
    return true;
  }
}
