/**
 * Public AMF writer: appends values to one growable buffer. It takes any JS value: the AmfValue
 * model maps one to one, other objects go as anonymous objects of their own enumerable properties,
 * a bigint as a number, functions and symbols as undefined. Reference tables (AMF0 and AMF3) span
 * all values written since the last reset(), matching AmfReader's per-message scope, so write one
 * message per writer (or reset between messages). A write that throws leaves neither bytes nor
 * table entries behind, so the writer stays usable.
 */
import { Amf0Encoder } from './Amf0Encoder.js';
import { Amf3Encoder } from './Amf3Encoder.js';
import type { AmfWriterOptions } from './AmfTypes.js';
import { DEFAULT_MAX_DEPTH } from './AmfTypes.js';
import { ByteSink } from './ByteSink.js';
import { Amf0 } from './markers.js';

export interface AmfWriterConfig extends AmfWriterOptions {
  /**
   * Write repeated AMF0 objects as 0x07 references (Flash does). Default false: ffmpeg and other
   * librtmp-style clients cannot read references, so repeats are written in full and cycles are
   * rejected by the depth limit. AMF3 references are part of the format and always used.
   */
  amf0References?: boolean;
}

export class AmfWriter {
  private readonly sink: ByteSink;
  private readonly amf0: Amf0Encoder;
  private readonly amf3: Amf3Encoder;

  constructor(initialSize = 256, options: AmfWriterConfig = {}) {
    this.sink = new ByteSink(initialSize, options.maxDepth ?? DEFAULT_MAX_DEPTH);
    this.amf3 = new Amf3Encoder(this.sink);
    this.amf0 = new Amf0Encoder(this.sink, this.amf3, options.amf0References ?? false, options.amf0SwitchToAmf3);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.sink.length;
  }

  writeAmf0(value: unknown): this {
    return this.guarded(() => this.amf0.writeValue(value));
  }

  /** Raw AMF3, without the 0x11 marker (AMF3 message bodies, ByteArray-style payloads). */
  writeAmf3(value: unknown): this {
    return this.guarded(() => this.amf3.writeValue(value));
  }

  /** The 0x11 marker then one AMF3 value, as an objectEncoding 3 peer sends command arguments. */
  writeAmf0SwitchToAmf3(value: unknown): this {
    return this.guarded(() => {
      this.sink.u8(Amf0.AVMPLUS);
      this.amf3.writeValue(value);
    });
  }

  /** A copy of the bytes written so far; the writer can keep going or be reset. */
  toBuffer(): Buffer {
    return this.sink.toBuffer();
  }

  /** Empties the buffer (keeping its memory) and the reference tables: ready for a new message. */
  reset(): void {
    this.sink.length = 0;
    this.resetReferences();
  }

  /** Keeps the bytes but lets later values no longer refer to earlier ones. */
  resetReferences(): void {
    this.amf0.resetReferences();
    this.amf3.resetReferences();
  }

  private guarded(write: () => void): this {
    const length = this.sink.length;
    const amf0Mark = this.amf0.mark();
    const amf3Mark = this.amf3.mark();
    this.sink.resetDepth();
    try {
      write();
    } catch (err) {
      this.sink.length = length;
      this.amf0.rollback(amf0Mark);
      this.amf3.rollback(amf3Mark);
      throw err;
    }
    return this;
  }
}

/** AMF0 encoding of `values`, one after the other (e.g. a command: name, transaction id, args). */
export const encodeAmf0 = (...values: unknown[]): Buffer => {
  const writer = new AmfWriter();
  for (const value of values) {
    writer.writeAmf0(value);
  }
  return writer.toBuffer();
};

/** AMF3 encoding of one value, without the 0x11 marker. */
export const encodeAmf3 = (value: unknown): Buffer => new AmfWriter().writeAmf3(value).toBuffer();
