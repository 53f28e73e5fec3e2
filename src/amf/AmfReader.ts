/**
 * Public AMF reader: one cursor over one message, with AMF0 and AMF3 decoders sharing it. Anything
 * wrong with the bytes surfaces as AmfParseError, never as a RangeError or a stack overflow.
 */
import { Amf0Decoder } from './Amf0Decoder.js';
import { Amf3Decoder } from './Amf3Decoder.js';
import type { AmfReaderOptions, AmfValue } from './AmfTypes.js';
import { AmfParseError, DEFAULT_MAX_DEPTH } from './AmfTypes.js';
import { ByteCursor } from './ByteCursor.js';

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export class AmfReader {
  private readonly cursor: ByteCursor;
  private readonly amf0: Amf0Decoder;
  private readonly amf3: Amf3Decoder;

  constructor(buffer: Buffer | Uint8Array, offset = 0, options: AmfReaderOptions = {}) {
    const buf = asBuffer(buffer);
    this.cursor = new ByteCursor(buf, 0, options.maxDepth ?? DEFAULT_MAX_DEPTH);
    this.offset = offset;
    const binaryStrings = options.binaryStrings === true;
    const byteStrings = options.byteStrings === true;
    this.amf3 = new Amf3Decoder(this.cursor, binaryStrings, byteStrings);
    this.amf0 = new Amf0Decoder(this.cursor, this.amf3, binaryStrings, byteStrings);
  }

  get offset(): number {
    return this.cursor.offset;
  }

  set offset(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > this.cursor.buf.length) {
      throw new AmfParseError(`offset ${value} is outside the ${this.cursor.buf.length}-byte buffer`, value);
    }
    this.cursor.offset = value;
  }

  get remaining(): number {
    return this.cursor.remaining;
  }

  /** One AMF0 value; an avmplus marker (0x11) makes it one AMF3 value. */
  readAmf0(): AmfValue {
    this.cursor.resetDepth();
    return this.amf0.readValue();
  }

  /** One AMF3 value (no 0x11 prefix expected). */
  readAmf3(): AmfValue {
    this.cursor.resetDepth();
    return this.amf3.readValue();
  }

  /** AMF0 values up to the end of the buffer, e.g. the name, transaction id and arguments of a command. */
  readAllAmf0(): AmfValue[] {
    const values: AmfValue[] = [];
    while (this.cursor.remaining > 0) {
      values.push(this.readAmf0());
    }
    return values;
  }

  /** Starts a new message: AMF0 and AMF3 references no longer reach values read before. */
  resetReferences(): void {
    this.amf0.resetReferences();
    this.amf3.resetReferences();
  }
}

/** Every AMF0 value of `buffer`. */
export const decodeAmf0 = (buffer: Buffer | Uint8Array, options?: AmfReaderOptions): AmfValue[] =>
  new AmfReader(buffer, 0, options).readAllAmf0();

/** The single AMF3 value `buffer` holds; trailing bytes are an error. */
export const decodeAmf3 = (buffer: Buffer | Uint8Array, options?: AmfReaderOptions): AmfValue => {
  const reader = new AmfReader(buffer, 0, options);
  const value = reader.readAmf3();
  if (reader.remaining > 0) {
    throw new AmfParseError(`${reader.remaining} trailing bytes after the AMF3 value`, reader.offset);
  }
  return value;
};
