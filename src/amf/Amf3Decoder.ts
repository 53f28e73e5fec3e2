/**
 * AMF3 decoding (Adobe AMF3 spec, January 2013). Holds the three implicit reference tables
 * (strings, objects, traits); they live as long as the decoder, i.e. one message, until
 * resetReferences(). Containers are registered in the object table before their members are read,
 * as the sender does, so self-references decode to the same JS object.
 */
import type { AmfObject, AmfValue, AmfVectorKind } from './AmfTypes.js';
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, AmfXml, setProperty } from './AmfTypes.js';
import type { ByteCursor } from './ByteCursor.js';
import { externalizableBodyProperty } from './externalizable.js';
import { Amf3, INT29_MAX } from './markers.js';
import { isUtf8 } from 'node:buffer';

/** A string table entry: a slice of the input, decoded lazily and at most once per form. */
interface StringEntry {
  readonly start: number;
  readonly length: number;
  text?: string;
  binary?: Buffer;
  byteString?: string | AmfByteString;
}

interface Traits {
  readonly className: string;
  readonly sealed: readonly string[];
  readonly dynamic: boolean;
  readonly externalizable: boolean;
}

const EMPTY: StringEntry = { start: 0, length: 0, text: '' };

/** Bytes per element of the numeric vectors, for the count-versus-remaining check. */
const vectorElementSize: Record<AmfVectorKind, number> = { int: 4, uint: 4, double: 8, object: 1 };

export class Amf3Decoder {
  private strings: StringEntry[] = [];
  private objects: AmfValue[] = [];
  private traits: Traits[] = [];
  /** Target of the last object reference read by readObjectHeader(). */
  private referenced: AmfValue = undefined;

  constructor(
    private readonly cur: ByteCursor,
    private readonly binaryStrings: boolean,
    private readonly byteStrings = false,
  ) {}

  resetReferences(): void {
    this.strings = [];
    this.objects = [];
    this.traits = [];
  }

  readValue(): AmfValue {
    const cur = this.cur;
    const at = cur.offset;
    const marker = cur.u8();
    switch (marker) {
      case Amf3.UNDEFINED:
        return undefined;
      case Amf3.NULL:
        return null;
      case Amf3.FALSE:
        return false;
      case Amf3.TRUE:
        return true;
      case Amf3.INTEGER: {
        const v = cur.u29();
        return v > INT29_MAX ? v - 0x20000000 : v; // 29-bit two's complement
      }
      case Amf3.DOUBLE:
        return cur.double();
      case Amf3.STRING:
        return this.binaryStrings ? this.readBinaryString() : this.byteStrings ? this.readByteString() : this.readString();
      case Amf3.XML_DOCUMENT:
      case Amf3.XML:
        return this.readXml(marker === Amf3.XML_DOCUMENT);
      case Amf3.DATE:
        return this.readDate();
      case Amf3.ARRAY:
        return this.readArray();
      case Amf3.OBJECT:
        return this.readObject();
      case Amf3.BYTE_ARRAY:
        return this.readByteArray();
      case Amf3.VECTOR_INT:
        return this.readVector('int');
      case Amf3.VECTOR_UINT:
        return this.readVector('uint');
      case Amf3.VECTOR_DOUBLE:
        return this.readVector('double');
      case Amf3.VECTOR_OBJECT:
        return this.readVector('object');
      case Amf3.DICTIONARY:
        return this.readDictionary();
      default:
        return cur.fail(`unknown AMF3 marker 0x${marker.toString(16).padStart(2, '0')}`, at);
    }
  }

  /** Keys, class names and member names: always text, whatever binaryStrings says. */
  readString(): string {
    const entry = this.readStringEntry();
    return (entry.text ??= this.cur.buf.toString('utf8', entry.start, entry.start + entry.length));
  }

  private readBinaryString(): Buffer {
    const entry = this.readStringEntry();
    if (entry.length === 0) {
      return Buffer.alloc(0);
    }
    // One copy per table entry: a reference returns the same Buffer, so repeated references to a
    // long string cannot multiply memory.
    return (entry.binary ??= Buffer.from(this.cur.buf.subarray(entry.start, entry.start + entry.length)));
  }

  /** Text when the bytes are UTF-8, else an AmfByteString (the same instance for each reference). */
  private readByteString(): string | AmfByteString {
    const entry = this.readStringEntry();
    if (entry.length === 0) {
      return '';
    }
    if (entry.byteString === undefined) {
      const bytes = this.cur.buf.subarray(entry.start, entry.start + entry.length);
      entry.byteString = isUtf8(bytes) ? bytes.toString('utf8') : new AmfByteString(Buffer.from(bytes));
    }
    return entry.byteString;
  }

  private readStringEntry(): StringEntry {
    const cur = this.cur;
    const at = cur.offset;
    const header = cur.u29();
    if ((header & 1) === 0) {
      const entry = this.strings[header >>> 1];
      return entry ?? cur.fail(`AMF3 string reference ${header >>> 1} not found`, at);
    }
    const length = header >>> 1;
    if (length === 0) {
      return EMPTY; // the empty string is never put in the table
    }
    cur.need(length, 'AMF3 string');
    const entry: StringEntry = { start: cur.offset, length };
    cur.offset += length;
    this.strings.push(entry);
    return entry;
  }

  /**
   * Reads a U29O header: returns the payload bits (header >>> 1) of an inline value, or -1 for a
   * reference, whose target is then in `referenced` (no wrapper object per reference).
   */
  private readObjectHeader(): number {
    const at = this.cur.offset;
    const header = this.cur.u29();
    if ((header & 1) === 1) {
      return header >>> 1;
    }
    const index = header >>> 1;
    if (index >= this.objects.length) {
      this.cur.fail(`AMF3 object reference ${index} not found`, at);
    }
    this.referenced = this.objects[index];
    return -1;
  }

  private readXml(document: boolean): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const xml = new AmfXml(this.cur.utf8(header, 'AMF3 XML'), document);
    this.objects.push(xml);
    return xml;
  }

  private readDate(): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const date = new Date(this.cur.double());
    this.objects.push(date);
    return date;
  }

  private readByteArray(): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const bytes = this.cur.bytes(header, 'AMF3 ByteArray');
    this.objects.push(bytes);
    return bytes;
  }

  /** Associative part first (name/value pairs up to an empty name), then `count` dense items. */
  private readArray(): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const cur = this.cur;
    cur.enter();
    const items: AmfValue[] = [];
    let result: AmfValue[] | AmfEcmaArray = items;
    let key = this.readString();
    if (key === '') {
      this.objects.push(items);
    } else {
      // The first key tells us the JS shape before any member is read, so the container is in the
      // table before a member can refer back to it.
      const ecma = new AmfEcmaArray({}, items);
      result = ecma;
      this.objects.push(ecma);
      do {
        setProperty(ecma.entries, key, this.readValue());
        key = this.readString();
      } while (key !== '');
    }
    cur.checkCount(header, 1, 'AMF3 array');
    for (let i = 0; i < header; i++) {
      items.push(this.readValue());
    }
    cur.leave();
    return result;
  }

  private readObject(): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const traits = this.readTraits(header);
    const cur = this.cur;
    cur.enter();
    const properties: AmfObject = {};
    if (traits.externalizable) {
      const bodyKey = externalizableBodyProperty(traits.className);
      if (bodyKey === undefined) {
        return cur.fail(`unsupported AMF3 externalizable class '${traits.className}'`);
      }
      const typed = new AmfTypedObject(traits.className, properties);
      this.objects.push(typed);
      setProperty(properties, bodyKey, this.readValue());
      cur.leave();
      return typed;
    }
    const result = traits.className === '' ? properties : new AmfTypedObject(traits.className, properties);
    this.objects.push(result);
    for (const name of traits.sealed) {
      setProperty(properties, name, this.readValue());
    }
    if (traits.dynamic) {
      for (let key = this.readString(); key !== ''; key = this.readString()) {
        setProperty(properties, key, this.readValue());
      }
    }
    cur.leave();
    return result;
  }

  /** `bits` is the U29O header without its inline-object bit. */
  private readTraits(bits: number): Traits {
    const cur = this.cur;
    if ((bits & 1) === 0) {
      const traits = this.traits[bits >>> 1];
      return traits ?? cur.fail(`AMF3 traits reference ${bits >>> 1} not found`);
    }
    const externalizable = (bits & 2) === 2;
    const dynamic = !externalizable && (bits & 4) === 4;
    const sealedCount = externalizable ? 0 : bits >>> 3;
    const className = this.readString();
    cur.checkCount(sealedCount, 1, 'AMF3 traits');
    const sealed: string[] = [];
    for (let i = 0; i < sealedCount; i++) {
      sealed.push(this.readString());
    }
    const traits: Traits = { className, sealed, dynamic, externalizable };
    this.traits.push(traits);
    return traits;
  }

  private readVector(kind: AmfVectorKind): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const cur = this.cur;
    const fixed = cur.u8() !== 0;
    const typeName = kind === 'object' ? this.readString() : '';
    cur.checkCount(header, vectorElementSize[kind], `AMF3 Vector.<${kind}>`);
    cur.enter();
    const items: AmfValue[] = [];
    const vector = new AmfVector(kind, items, fixed, typeName);
    this.objects.push(vector);
    for (let i = 0; i < header; i++) {
      items.push(kind === 'int' ? cur.i32() : kind === 'uint' ? cur.u32() : kind === 'double' ? cur.double() : this.readValue());
    }
    cur.leave();
    return vector;
  }

  private readDictionary(): AmfValue {
    const header = this.readObjectHeader();
    if (header < 0) {
      return this.referenced;
    }
    const cur = this.cur;
    const weakKeys = (cur.u8() & 1) === 1;
    cur.checkCount(header, 2, 'AMF3 Dictionary');
    cur.enter();
    const dictionary = new AmfDictionary([], weakKeys);
    this.objects.push(dictionary);
    for (let i = 0; i < header; i++) {
      const key = this.readValue();
      dictionary.entries.push([key, this.readValue()]);
    }
    cur.leave();
    return dictionary;
  }
}
