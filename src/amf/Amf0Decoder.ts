/**
 * AMF0 decoding (Adobe AMF0 spec, 2007). Objects, typed objects, ECMA arrays and strict arrays go
 * into the reference table when they start, so a 0x07 reference, including one to an enclosing
 * container, resolves to the same JS object. The table lives as long as the decoder (one message,
 * as MonaServer, Red5 and PyAMF scope it) until resetReferences().
 *
 * 0x11 hands exactly one value to the AMF3 decoder, whose tables also persist for the whole
 * message rather than being fresh per switch; values decoded that way do not enter the AMF0 table.
 */
import type { AmfObject, AmfValue } from './AmfTypes.js';
import { AmfByteString, AmfEcmaArray, AmfTypedObject, AmfXml, setProperty } from './AmfTypes.js';
import type { Amf3Decoder } from './Amf3Decoder.js';
import type { ByteCursor } from './ByteCursor.js';
import { Amf0 } from './markers.js';
import { isUtf8 } from 'node:buffer';

export class Amf0Decoder {
  private references: AmfValue[] = [];

  constructor(
    private readonly cur: ByteCursor,
    private readonly amf3: Amf3Decoder,
    private readonly binaryStrings: boolean,
    private readonly byteStrings = false,
  ) {}

  resetReferences(): void {
    this.references = [];
  }

  readValue(): AmfValue {
    const cur = this.cur;
    const at = cur.offset;
    const marker = cur.u8();
    switch (marker) {
      case Amf0.NUMBER:
        return cur.double();
      case Amf0.BOOLEAN:
        return cur.u8() !== 0;
      case Amf0.STRING:
        return this.readStringValue(cur.u16());
      case Amf0.LONG_STRING:
        return this.readStringValue(cur.u32());
      case Amf0.OBJECT: {
        const object: AmfObject = {};
        this.references.push(object);
        this.readProperties(object);
        return object;
      }
      case Amf0.NULL:
        return null;
      case Amf0.UNDEFINED:
      case Amf0.UNSUPPORTED:
        return undefined;
      case Amf0.REFERENCE: {
        const index = cur.u16();
        if (index >= this.references.length) {
          cur.fail(`AMF0 reference ${index} not found`, at);
        }
        return this.references[index];
      }
      case Amf0.ECMA_ARRAY: {
        // The declared count is advisory: encoders get it wrong, the end marker is authoritative.
        cur.u32();
        const array = new AmfEcmaArray();
        this.references.push(array);
        this.readProperties(array.entries);
        return array;
      }
      case Amf0.STRICT_ARRAY:
        return this.readStrictArray();
      case Amf0.DATE: {
        const date = new Date(cur.double());
        cur.skip(2, 'AMF0 date time zone'); // reserved, always 0 in practice
        return date;
      }
      case Amf0.XML_DOCUMENT:
        return new AmfXml(cur.utf8(cur.u32(), 'AMF0 XML document'), true);
      case Amf0.TYPED_OBJECT: {
        const typed = new AmfTypedObject(cur.utf8(cur.u16(), 'AMF0 class name'));
        this.references.push(typed);
        this.readProperties(typed.properties);
        return typed;
      }
      case Amf0.AVMPLUS:
        return this.amf3.readValue();
      default:
        // MOVIECLIP and RECORDSET are reserved, OBJECT_END is only valid after an empty key.
        return cur.fail(`unexpected AMF0 marker 0x${marker.toString(16).padStart(2, '0')}`, at);
    }
  }

  private readStringValue(length: number): string | Buffer | AmfByteString {
    if (this.binaryStrings) {
      return this.cur.bytes(length, 'AMF0 string');
    }
    if (this.byteStrings) {
      const bytes = this.cur.bytes(length, 'AMF0 string');
      return isUtf8(bytes) ? bytes.toString('utf8') : new AmfByteString(bytes);
    }
    return this.cur.utf8(length, 'AMF0 string');
  }

  /** Name/value pairs up to the empty name followed by OBJECT_END. */
  private readProperties(target: AmfObject): void {
    const cur = this.cur;
    cur.enter();
    for (;;) {
      const keyLength = cur.u16();
      if (keyLength === 0 && cur.peek() === Amf0.OBJECT_END) {
        cur.offset++;
        break;
      }
      // An empty key followed by anything else is an ordinary property named ''.
      const key = cur.utf8(keyLength, 'AMF0 property name');
      setProperty(target, key, this.readValue());
    }
    cur.leave();
  }

  private readStrictArray(): AmfValue[] {
    const cur = this.cur;
    const count = cur.u32();
    cur.checkCount(count, 1, 'AMF0 strict array');
    cur.enter();
    const items: AmfValue[] = [];
    this.references.push(items);
    for (let i = 0; i < count; i++) {
      items.push(this.readValue());
    }
    cur.leave();
    return items;
  }
}
