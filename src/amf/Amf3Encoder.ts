/**
 * AMF3 encoding. Mirrors Amf3Decoder: string, object and traits tables that live as long as the
 * encoder (one message) until resetReferences(). Every container is registered before its members
 * are written, so shared and cyclic values become references rather than copies or endless loops.
 */
import type { PlainObject } from './AmfTypes.js';
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfEncodeError, AmfTypedObject, AmfVector, AmfXml } from './AmfTypes.js';
import type { ByteSink } from './ByteSink.js';
import { externalizableBodyProperty } from './externalizable.js';
import { Amf3, INT29_MAX, INT29_MIN, U28_MAX } from './markers.js';

/** Table sizes at some point, to undo the registrations of a value whose writing failed. */
export interface Amf3Mark {
  strings: number;
  objects: number;
  traits: number;
}

/** Traits of every anonymous object without a '' key: no class name, dynamic, nothing sealed. */
const ANONYMOUS_TRAITS_KEY = 'a';

const vectorMarker = { int: Amf3.VECTOR_INT, uint: Amf3.VECTOR_UINT, double: Amf3.VECTOR_DOUBLE, object: Amf3.VECTOR_OBJECT };

const truncateTable = (table: Map<unknown, number>, size: number): void => {
  for (const [key, index] of table) {
    if (index >= size) {
      table.delete(key);
    }
  }
};

export class Amf3Encoder {
  private readonly strings = new Map<string, number>();
  /** Byte strings (AmfByteString), keyed by their bytes as latin1; numbered with the text strings. */
  private readonly byteStrings = new Map<string, number>();
  private readonly objects = new Map<object, number>();
  private readonly traits = new Map<string, number>();
  // Counts are kept apart from the maps: past the U28 index limit values are still counted (the
  // reader numbers them) but no longer registered, as they could not be referenced.
  private stringCount = 0;
  private objectCount = 0;
  private traitCount = 0;

  constructor(private readonly out: ByteSink) {}

  resetReferences(): void {
    this.rollback({ strings: 0, objects: 0, traits: 0 });
  }

  mark(): Amf3Mark {
    return { strings: this.stringCount, objects: this.objectCount, traits: this.traitCount };
  }

  rollback(mark: Amf3Mark): void {
    truncateTable(this.strings, mark.strings);
    truncateTable(this.byteStrings, mark.strings);
    truncateTable(this.objects, mark.objects);
    truncateTable(this.traits, mark.traits);
    this.stringCount = mark.strings;
    this.objectCount = mark.objects;
    this.traitCount = mark.traits;
  }

  writeValue(value: unknown): void {
    const out = this.out;
    switch (typeof value) {
      case 'number':
        this.writeNumber(value);
        return;
      case 'string':
        out.u8(Amf3.STRING);
        this.writeString(value);
        return;
      case 'boolean':
        out.u8(value ? Amf3.TRUE : Amf3.FALSE);
        return;
      case 'object':
        if (value === null) {
          out.u8(Amf3.NULL);
        } else {
          this.writeObjectValue(value);
        }
        return;
      case 'bigint':
        this.writeNumber(Number(value));
        return;
      default:
        // undefined; functions and symbols have no AMF form either.
        out.u8(Amf3.UNDEFINED);
    }
  }

  /** Integers in the 29-bit signed range go as U29 (-0 excluded, it needs the double); others as double. */
  private writeNumber(v: number): void {
    if (Number.isInteger(v) && v >= INT29_MIN && v <= INT29_MAX && !Object.is(v, -0)) {
      this.out.u8(Amf3.INTEGER);
      this.out.u29(v & 0x1fffffff);
    } else {
      this.out.u8(Amf3.DOUBLE);
      this.out.double(v);
    }
  }

  /** UTF-8-vr: a reference to an earlier identical string, or the inline text. */
  writeString(s: string): void {
    const out = this.out;
    if (s.length === 0) {
      out.u8(0x01); // inline, length 0; the empty string is never referenced
      return;
    }
    const index = this.strings.get(s);
    if (index !== undefined) {
      out.u29(index << 1);
      return;
    }
    this.register(this.strings, s, this.stringCount++);
    const byteLength = Buffer.byteLength(s, 'utf8');
    if (byteLength > U28_MAX) {
      throw new AmfEncodeError(`string of ${byteLength} bytes is too long for AMF3`);
    }
    out.u29((byteLength << 1) | 1);
    out.utf8(s, byteLength);
  }

  /** A string of raw bytes (AmfByteString), in the same string table as text strings. */
  private writeByteString(bytes: Buffer): void {
    const out = this.out;
    if (bytes.length === 0) {
      out.u8(0x01);
      return;
    }
    const key = bytes.toString('latin1');
    const index = this.byteStrings.get(key);
    if (index !== undefined) {
      out.u29(index << 1);
      return;
    }
    this.register(this.byteStrings, key, this.stringCount++);
    if (bytes.length > U28_MAX) {
      throw new AmfEncodeError(`string of ${bytes.length} bytes is too long for AMF3`);
    }
    out.u29((bytes.length << 1) | 1);
    out.bytes(bytes);
  }

  private register<K>(table: Map<K, number>, key: K, index: number): void {
    if (index <= U28_MAX) {
      table.set(key, index);
    }
  }

  /**
   * Writes an object-table value's marker, then either a reference (returns true) or nothing,
   * having registered `value` for later references (returns false).
   */
  private reference(marker: number, value: object): boolean {
    this.out.u8(marker);
    const index = this.objects.get(value);
    if (index !== undefined) {
      this.out.u29(index << 1);
      return true;
    }
    this.register(this.objects, value, this.objectCount++);
    return false;
  }

  private writeObjectValue(value: object): void {
    const out = this.out;
    if (value instanceof AmfByteString) {
      out.u8(Amf3.STRING);
      this.writeByteString(value.bytes);
    } else if (Array.isArray(value)) {
      if (!this.reference(Amf3.ARRAY, value)) {
        this.writeArray(value as unknown[], undefined);
      }
    } else if (value instanceof Uint8Array) {
      if (!this.reference(Amf3.BYTE_ARRAY, value)) {
        this.writeLength(value.length, 'ByteArray');
        out.bytes(value);
      }
    } else if (value instanceof Date) {
      if (!this.reference(Amf3.DATE, value)) {
        out.u8(0x01); // inline, no other payload bits
        out.double(value.getTime());
      }
    } else if (value instanceof AmfEcmaArray) {
      if (!this.reference(Amf3.ARRAY, value)) {
        this.writeArray(value.items, value.entries);
      }
    } else if (value instanceof AmfTypedObject) {
      if (!this.reference(Amf3.OBJECT, value)) {
        this.writeTypedObject(value);
      }
    } else if (value instanceof AmfXml) {
      if (!this.reference(value.document ? Amf3.XML_DOCUMENT : Amf3.XML, value)) {
        const byteLength = Buffer.byteLength(value.xml, 'utf8');
        this.writeLength(byteLength, 'XML');
        out.utf8(value.xml, byteLength);
      }
    } else if (value instanceof AmfVector) {
      if (!this.reference(vectorMarker[value.kind], value)) {
        this.writeVector(value);
      }
    } else if (value instanceof AmfDictionary) {
      if (!this.reference(Amf3.DICTIONARY, value)) {
        this.writeDictionary(value);
      }
    } else if (!this.reference(Amf3.OBJECT, value)) {
      this.writeAnonymousObject(value as PlainObject);
    }
  }

  /** U29 with the inline bit: `length << 1 | 1`. */
  private writeLength(length: number, what: string): void {
    if (length > U28_MAX) {
      throw new AmfEncodeError(`${what} of ${length} elements is too long for AMF3`);
    }
    this.out.u29((length << 1) | 1);
  }

  /**
   * Dense count, associative pairs up to an empty name, dense items. A '' entry cannot be written
   * (the empty name ends the associative part) and is left out.
   */
  private writeArray(items: readonly unknown[], entries: PlainObject | undefined): void {
    this.writeLength(items.length, 'array');
    this.out.enter();
    if (entries !== undefined) {
      for (const key of Object.keys(entries)) {
        if (key !== '') {
          this.writeString(key);
          this.writeValue(entries[key]);
        }
      }
    }
    this.out.u8(0x01);
    for (const item of items) {
      this.writeValue(item);
    }
    this.out.leave();
  }

  /**
   * Dynamic object without a class name, as Flash writes one. A '' key would end the dynamic part,
   * so when present it travels as the single sealed member, which readers fold back in.
   */
  private writeAnonymousObject(object: PlainObject): void {
    const keys = Object.keys(object);
    const sealed = Object.hasOwn(object, '') ? [''] : [];
    this.writeTraits(sealed.length === 0 ? ANONYMOUS_TRAITS_KEY : 'a\u0000', '', sealed, true);
    this.out.enter();
    if (sealed.length > 0) {
      this.writeValue(object['']);
    }
    for (const key of keys) {
      if (key !== '') {
        this.writeString(key);
        this.writeValue(object[key]);
      }
    }
    this.out.u8(0x01);
    this.out.leave();
  }

  /**
   * Typed objects go with their class name and every property as a sealed member, so objects of
   * one class with the same keys share one traits entry. Known externalizable Flex classes are
   * written in their externalized form.
   */
  private writeTypedObject(typed: AmfTypedObject): void {
    const out = this.out;
    const bodyKey = externalizableBodyProperty(typed.className);
    if (bodyKey !== undefined) {
      this.writeTraits(`e${typed.className}`, typed.className, undefined, false);
      out.enter();
      this.writeValue(typed.properties[bodyKey]);
      out.leave();
      return;
    }
    const keys = Object.keys(typed.properties);
    this.writeTraits(`t${JSON.stringify([typed.className, ...keys])}`, typed.className, keys, false);
    out.enter();
    for (const key of keys) {
      this.writeValue(typed.properties[key]);
    }
    out.leave();
  }

  /** Traits reference, or inline traits; `sealed` undefined means externalizable. */
  private writeTraits(key: string, className: string, sealed: string[] | undefined, dynamic: boolean): void {
    const out = this.out;
    const index = this.traits.get(key);
    if (index !== undefined) {
      out.u29((index << 2) | 0b01);
      return;
    }
    this.register(this.traits, key, this.traitCount++);
    if (sealed === undefined) {
      out.u29(0b0111);
      this.writeString(className);
      return;
    }
    if (sealed.length > U28_MAX >>> 3) {
      throw new AmfEncodeError(`class '${className}' has too many members for AMF3 traits`);
    }
    out.u29((sealed.length << 4) | (dynamic ? 0b1000 : 0) | 0b0011);
    this.writeString(className);
    for (const name of sealed) {
      this.writeString(name);
    }
  }

  private writeVector(vector: AmfVector): void {
    const out = this.out;
    const { kind, items } = vector;
    this.writeLength(items.length, 'vector');
    out.u8(vector.fixed ? 1 : 0);
    if (kind === 'object') {
      this.writeString(vector.typeName);
      out.enter();
      for (const item of items) {
        this.writeValue(item);
      }
      out.leave();
      return;
    }
    for (const item of items) {
      if (typeof item !== 'number') {
        throw new AmfEncodeError(`Vector.<${kind}> holds a non-number`);
      }
      if (kind === 'double') {
        out.double(item);
      } else if (kind === 'int' ? item === (item | 0) : item === item >>> 0) {
        // The exact-equality checks above reject fractions, NaN and out-of-range values that the
        // Buffer write would otherwise reject with a RangeError.
        if (kind === 'int') {
          out.i32(item);
        } else {
          out.u32(item);
        }
      } else {
        throw new AmfEncodeError(`${item} is not a valid Vector.<${kind}> element`);
      }
    }
  }

  private writeDictionary(dictionary: AmfDictionary): void {
    const out = this.out;
    this.writeLength(dictionary.entries.length, 'dictionary');
    out.u8(dictionary.weakKeys ? 1 : 0);
    out.enter();
    for (const [key, value] of dictionary.entries) {
      this.writeValue(key);
      this.writeValue(value);
    }
    out.leave();
  }
}
