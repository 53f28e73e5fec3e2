/**
 * RTMFP option lists (RFC 7016 §2.1.3, rtmfp.md §1.4): each option is `VLU length`, then that many
 * bytes holding `VLU type` and the value; a length of 0 is the marker that ends a list. Used by
 * endpoint discriminators, certificates, session key components and user data.
 */
import { readVlu, vluLength, writeVlu } from './vlu.js';

/** How the last `OptionReader.next()` that returned false ended. */
export const OptionsEnd = { NONE: 0, MARKER: 1, END: 2, MALFORMED: 3 } as const;
export type OptionsEnd = (typeof OptionsEnd)[keyof typeof OptionsEnd];

/** Iterates an option list without allocating; reuse one per parser. */
export class OptionReader {
  private buf: Uint8Array = new Uint8Array(0);
  /** Position of the next option (after the marker once `ended === MARKER`). */
  pos = 0;
  private end = 0;
  /** Current option: type and value bounds. */
  type = -1;
  valueStart = 0;
  valueEnd = 0;
  ended: OptionsEnd = OptionsEnd.NONE;
  private readonly inner = { pos: 0 };

  reset(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.type = -1;
    this.valueStart = this.valueEnd = start;
    this.ended = OptionsEnd.NONE;
    return this;
  }

  /** Moves to the next option; false at the marker, at the end of the region, or on bad bytes. */
  next(): boolean {
    if (this.ended !== OptionsEnd.NONE) {
      return false;
    }
    if (this.pos >= this.end) {
      this.ended = OptionsEnd.END;
      return false;
    }
    const length = readVlu(this.buf, this.end, this);
    if (length < 0) {
      this.ended = OptionsEnd.MALFORMED;
      return false;
    }
    if (length === 0) {
      this.ended = OptionsEnd.MARKER;
      return false;
    }
    const optionEnd = this.pos + length;
    if (optionEnd > this.end) {
      this.ended = OptionsEnd.MALFORMED;
      return false;
    }
    const at = this.inner;
    at.pos = this.pos;
    const type = readVlu(this.buf, optionEnd, at);
    if (type < 0) {
      this.ended = OptionsEnd.MALFORMED;
      return false;
    }
    this.type = type;
    this.valueStart = at.pos;
    this.valueEnd = optionEnd;
    this.pos = optionEnd;
    return true;
  }

  /** The first byte of the current value as a VLU (group IDs, flow IDs), or -1. */
  valueVlu(): number {
    this.inner.pos = this.valueStart;
    return readVlu(this.buf, this.valueEnd, this.inner);
  }
}

/** Encoded size of one option. */
export const optionLength = (type: number, valueLength: number): number => {
  const inner = vluLength(type) + valueLength;
  return vluLength(inner) + inner;
};

/** Writes one option; returns the offset after it. */
export function writeOption(buf: Uint8Array, offset: number, type: number, value: Uint8Array): number {
  let o = writeVlu(buf, offset, vluLength(type) + value.length);
  o = writeVlu(buf, o, type);
  buf.set(value, o);
  return o + value.length;
}

/** Encodes `[type, value]` pairs, with a trailing marker if asked (setup paths only). */
export function encodeOptions(options: readonly (readonly [number, Uint8Array])[], marker: boolean): Buffer {
  let size = marker ? 1 : 0;
  for (const [type, value] of options) {
    size += optionLength(type, value.length);
  }
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (const [type, value] of options) {
    o = writeOption(buf, o, type, value);
  }
  if (marker) {
    buf[o] = 0;
  }
  return buf;
}
