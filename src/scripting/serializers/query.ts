/**
 * `mona:toQuery(...)` and `mona:fromQuery(data)`: URL query strings as MonaServer writes and reads
 * them (MonaCore/sources/QueryWriter.cpp, QueryReader.cpp). Each value is one `&`-separated item:
 * a table's fields are `name=value` items, an array's elements items of their own; strings are
 * percent-encoded, numbers, `true`/`false` and `null` written as such, dates in basic ISO 8601
 * (20140930T131517Z), bytes in base64:
 *
 *   mona:toQuery({ key1 = "val1" }, "str#ing", { n = 10 })  -->  key1=val1&str%23ing&n=10
 *
 * Read back, consecutive `name=value` items make one table and an item without `=` is a value of
 * its own; values are typed as MonaServer types them (null, true/false in any case, a date, a
 * number, else a string) and `+` is a space.
 *
 * Unlike MonaServer, `&`, `=`, `+` and the control and non-ASCII bytes are always encoded (and
 * base64 too), so that any string comes back the same; a cyclic table is an error.
 */
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, AmfXml, setProperty } from '../../amf/index.js';
import { bytesOf, CycleGuard, dictionaryAsObject, formatDate, parseDate, type ScriptData, textOf } from './ScriptData.js';

/** Bytes written as they are: the URI's unreserved and most sub-delimiters, minus what splits a query. */
const PLAIN = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,;:@/") {
  PLAIN[c.charCodeAt(0)] = 1;
}

const HEX = '0123456789ABCDEF';

export const encodeQueryComponent = (value: string | AmfByteString | Buffer): string => {
  const bytes = Buffer.isBuffer(value) ? value : bytesOf(value);
  let out = '';
  for (const b of bytes) {
    out += PLAIN[b] === 1 ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
};

class QueryWriter {
  private out = '';
  private first = true;
  private isProperty = false;
  private readonly guard = new CycleGuard('a query');

  /** What goes before a value: `=` after a name, `&` between items. */
  private separator(): string {
    if (this.isProperty) {
      this.isProperty = false;
      return '=';
    }
    if (this.first) {
      this.first = false;
      return '';
    }
    return '&';
  }

  private name(name: string): void {
    this.out += `${this.first ? '' : '&'}${encodeQueryComponent(name)}`;
    this.first = false;
    this.isProperty = true;
  }

  private text(text: string): void {
    this.out += `${this.separator()}${text}`;
  }

  value(value: ScriptData): void {
    switch (typeof value) {
      case 'string':
        this.text(encodeQueryComponent(value));
        return;
      case 'number':
      case 'boolean':
        this.text(String(value));
        return;
      case 'object':
        if (value !== null) {
          this.object(value);
          return;
        }
        break;
      default:
        break;
    }
    this.text('null');
  }

  private object(value: object): void {
    if (value instanceof AmfByteString) {
      this.text(encodeQueryComponent(value));
    } else if (value instanceof Date) {
      this.text(formatDate(value, true) ?? 'null');
    } else if (value instanceof Uint8Array) {
      this.text(encodeQueryComponent(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')));
    } else if (value instanceof AmfXml) {
      this.text(encodeQueryComponent(value.xml));
    } else {
      this.guard.enter(value);
      if (Array.isArray(value) || value instanceof AmfVector) {
        for (const item of Array.isArray(value) ? (value as ScriptData[]) : value.items) {
          this.value(item);
        }
      } else if (value instanceof AmfEcmaArray) {
        this.fields(value.entries);
        for (const item of value.items) {
          this.value(item);
        }
      } else {
        this.fields(value instanceof AmfTypedObject ? value.properties : value instanceof AmfDictionary ? dictionaryAsObject(value) : (value as Record<string, ScriptData>));
      }
      this.guard.leave(value);
    }
  }

  private fields(fields: Record<string, ScriptData>): void {
    for (const key of Object.keys(fields)) {
      const value: unknown = fields[key];
      if (value === undefined || typeof value === 'function') {
        continue;
      }
      this.name(key);
      this.value(fields[key]);
    }
  }

  query(values: readonly ScriptData[]): string {
    for (const value of values) {
      this.value(value);
    }
    return this.out;
  }
}

export const toQuery = (values: readonly ScriptData[]): string => new QueryWriter().query(values);

/** Percent-decoding (a malformed escape stays as it is) and `+` as a space. */
const decode = (text: string): Buffer => {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const hex = b === 0x25 && i + 2 < bytes.length ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = b === 0x2b ? 0x20 : b;
    }
  }
  return out.subarray(0, n);
};

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** MonaServer's typing of a query value: null, a boolean, a date, a number, else a string. */
const typed = (raw: Buffer): ScriptData => {
  const value = textOf(raw);
  if (typeof value !== 'string') {
    return value;
  }
  const lower = value.toLowerCase();
  if (lower === 'null') {
    return null;
  }
  if (lower === 'true' || lower === 'false') {
    return lower === 'true';
  }
  const date = parseDate(value);
  if (date !== null) {
    return date;
  }
  return NUMBER.test(value) ? Number(value) : value;
};

/** The values of a query: runs of `name=value` items as tables, other items as values. */
export const fromQuery = (query: string): ScriptData[] => {
  const values: ScriptData[] = [];
  let fields: Record<string, ScriptData> | null = null;
  for (const item of query.split('&')) {
    if (item === '') {
      continue;
    }
    const equals = item.indexOf('=');
    if (equals < 0) {
      fields = null;
      values.push(typed(decode(item)));
      continue;
    }
    if (fields === null) {
      fields = {};
      values.push(fields);
    }
    setProperty(fields, decode(item.slice(0, equals)).toString('utf8'), typed(decode(item.slice(equals + 1))));
  }
  return values;
};
