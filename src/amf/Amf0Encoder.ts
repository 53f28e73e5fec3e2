/**
 * AMF0 encoding. Objects, typed objects, ECMA arrays and strict arrays are registered when they
 * start, so a value met again in the same message (including a cycle) is written as a 0x07
 * reference, in the numbering Amf0Decoder uses. Vectors and dictionaries have no AMF0 form and are
 * written as one AMF3 value behind the 0x11 marker.
 */
import type { PlainObject } from './AmfTypes.js';
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfEncodeError, AmfTypedObject, AmfVector, AmfXml } from './AmfTypes.js';
import type { Amf3Encoder } from './Amf3Encoder.js';
import type { ByteSink } from './ByteSink.js';
import { Amf0, U16_MAX } from './markers.js';

const U32_MAX = 0xffffffff;

export class Amf0Encoder {
  private readonly references = new Map<object, number>();
  private referenceCount = 0;

  constructor(
    private readonly out: ByteSink,
    private readonly amf3: Amf3Encoder,
    private readonly useReferences: boolean,
    private readonly switchToAmf3?: (value: object) => boolean,
  ) {}

  resetReferences(): void {
    this.rollback(0);
  }

  mark(): number {
    return this.referenceCount;
  }

  /** Forgets registrations made since `mark`, after a failed write was cut off the output. */
  rollback(mark: number): void {
    for (const [value, index] of this.references) {
      if (index >= mark) {
        this.references.delete(value);
      }
    }
    this.referenceCount = mark;
  }

  writeValue(value: unknown): void {
    const out = this.out;
    switch (typeof value) {
      case 'number':
        out.u8(Amf0.NUMBER);
        out.double(value);
        return;
      case 'string':
        this.writeString(value);
        return;
      case 'boolean':
        out.u8(Amf0.BOOLEAN);
        out.u8(value ? 1 : 0);
        return;
      case 'object':
        if (value === null) {
          out.u8(Amf0.NULL);
        } else {
          this.writeObjectValue(value);
        }
        return;
      case 'bigint':
        out.u8(Amf0.NUMBER);
        out.double(Number(value));
        return;
      default:
        // undefined; functions and symbols have no AMF form either.
        out.u8(Amf0.UNDEFINED);
    }
  }

  /** Short string when its UTF-8 fits a U16 length, long string otherwise; measured only once. */
  private writeString(s: string): void {
    const out = this.out;
    const start = out.length;
    if (s.length <= U16_MAX) {
      out.u8(Amf0.STRING);
      const lengthAt = out.reserve(2);
      const written = out.utf8(s);
      if (written <= U16_MAX) {
        out.u16At(lengthAt, written);
        return;
      }
      out.length = start; // multi-byte characters pushed it over: redo as a long string
    }
    const byteLength = Buffer.byteLength(s, 'utf8');
    if (byteLength > U32_MAX) {
      throw new AmfEncodeError(`string of ${byteLength} bytes is too long for AMF0`);
    }
    out.u8(Amf0.LONG_STRING);
    out.u32(byteLength);
    out.utf8(s, byteLength);
  }

  /** Binary data goes as a string of its raw bytes, which is how MonaServer sends binary strings. */
  private writeBytes(bytes: Uint8Array): void {
    const out = this.out;
    if (bytes.length <= U16_MAX) {
      out.u8(Amf0.STRING);
      out.u16(bytes.length);
    } else if (bytes.length <= U32_MAX) {
      out.u8(Amf0.LONG_STRING);
      out.u32(bytes.length);
    } else {
      throw new AmfEncodeError(`binary string of ${bytes.length} bytes is too long for AMF0`);
    }
    out.bytes(bytes);
  }

  /** U16-length UTF-8 without marker: property names and class names. */
  private writeShortText(s: string, what: string): void {
    const out = this.out;
    const lengthAt = out.reserve(2);
    const written = out.utf8(s);
    if (written > U16_MAX) {
      throw new AmfEncodeError(`${what} of ${written} bytes is too long for AMF0`);
    }
    out.u16At(lengthAt, written);
  }

  private writeObjectValue(value: object): void {
    const out = this.out;
    if (this.switchToAmf3?.(value) === true) {
      out.u8(Amf0.AVMPLUS);
      this.amf3.writeValue(value);
    } else if (value instanceof Uint8Array) {
      this.writeBytes(value);
    } else if (value instanceof AmfByteString) {
      this.writeBytes(value.bytes);
    } else if (value instanceof Date) {
      out.u8(Amf0.DATE);
      out.double(value.getTime());
      out.u16(0); // time zone: reserved, 0
    } else if (value instanceof AmfXml) {
      const byteLength = Buffer.byteLength(value.xml, 'utf8');
      if (byteLength > U32_MAX) {
        throw new AmfEncodeError(`XML of ${byteLength} bytes is too long for AMF0`);
      }
      out.u8(Amf0.XML_DOCUMENT);
      out.u32(byteLength);
      out.utf8(value.xml, byteLength);
    } else if (value instanceof AmfVector || value instanceof AmfDictionary) {
      out.u8(Amf0.AVMPLUS);
      this.amf3.writeValue(value);
    } else if (!this.writeReference(value)) {
      this.writeComplex(value);
    }
  }

  /** Writes a reference if `value` was already written; otherwise registers it and returns false. */
  private writeReference(value: object): boolean {
    if (!this.useReferences) {
      return false;
    }
    const index = this.references.get(value);
    if (index !== undefined) {
      this.out.u8(Amf0.REFERENCE);
      this.out.u16(index);
      return true;
    }
    // Indexes are U16: later values are still numbered by the reader but cannot be referenced.
    if (this.referenceCount <= U16_MAX) {
      this.references.set(value, this.referenceCount);
    }
    this.referenceCount++;
    return false;
  }

  private writeComplex(value: object): void {
    const out = this.out;
    out.enter();
    if (Array.isArray(value)) {
      out.u8(Amf0.STRICT_ARRAY);
      out.u32(value.length);
      for (const item of value as unknown[]) {
        this.writeValue(item);
      }
    } else if (value instanceof AmfEcmaArray) {
      // AMF0 has no dense part: items become the properties '0', '1', …, ahead of the entries.
      const keys = Object.keys(value.entries);
      out.u8(Amf0.ECMA_ARRAY);
      out.u32(Math.min(value.items.length + keys.length, U32_MAX));
      for (let i = 0; i < value.items.length; i++) {
        this.writeShortText(String(i), 'property name');
        this.writeValue(value.items[i]);
      }
      this.writeProperties(value.entries, keys);
    } else if (value instanceof AmfTypedObject) {
      out.u8(Amf0.TYPED_OBJECT);
      this.writeShortText(value.className, 'class name');
      this.writeProperties(value.properties, Object.keys(value.properties));
    } else {
      out.u8(Amf0.OBJECT);
      const object = value as PlainObject;
      this.writeProperties(object, Object.keys(object));
    }
    out.leave();
  }

  /** Name/value pairs and the end marker (empty name, OBJECT_END). */
  private writeProperties(object: PlainObject, keys: string[]): void {
    for (const key of keys) {
      this.writeShortText(key, 'property name');
      this.writeValue(object[key]);
    }
    this.out.u16(0);
    this.out.u8(Amf0.OBJECT_END);
  }
}
