/**
 * The values MonaServer's serializers (`toAMF`, `toXMLRPC`, `toQuery`...) read and write: what a
 * script hands over, as JS values, one model for Lua and JS apps. It is the AMF value model
 * (src/amf), since AMF is the format that can say the most; MonaServer's Lua conventions map to it
 * one to one (MonaServer/sources/ScriptReader.cpp and ScriptWriter.cpp):
 *
 *   Lua                                  ScriptData
 *   nil, boolean, number                 null, boolean, number
 *   string (UTF-8 / other bytes)         string / AmfByteString
 *   { __raw = "bytes" }                  Uint8Array (AMF ByteArray, XML-RPC base64)
 *   { __time = ms }                      Date
 *   { __size = n, [k] = v }              AmfDictionary (weak keys when the metatable's __mode is "k")
 *   { __type = "T", k = v }              AmfTypedObject
 *   { v1, v2 }                           array
 *   { v1, v2, k = v }                    AmfEcmaArray (a mixed table: items and entries)
 *   { k = v }, {}                        plain object, empty array
 *
 * A table met twice is one JS object, so repeats and cycles survive: AMF writes them as
 * references, the formats without references write a repeat again in full and refuse a cycle.
 */
import { isUtf8 } from 'node:buffer';
import { AmfByteString, type AmfDictionary, type AmfValue } from '../../amf/index.js';

export type ScriptData = AmfValue;

/** Text when the bytes are UTF-8, else the bytes as a byte string (nothing is lost either way). */
export const textOf = (bytes: Buffer): string | AmfByteString => (isUtf8(bytes) ? bytes.toString('utf8') : new AmfByteString(bytes));

/** The bytes of a string value as it would go on the wire. */
export const bytesOf = (value: string | AmfByteString): Buffer => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value.bytes);

/**
 * Tracks the containers being written, for formats without references: a container met again
 * inside itself is a cycle, which they cannot write.
 */
export class CycleGuard {
  private readonly open = new Set<object>();

  constructor(private readonly format: string) {}

  enter(value: object): void {
    if (this.open.has(value)) {
      throw new Error(`a cyclic table cannot be written in ${this.format}`);
    }
    this.open.add(value);
  }

  leave(value: object): void {
    this.open.delete(value);
  }
}

/**
 * A dictionary for a format that has no maps: an object of its string and number keys plus
 * `__size`, as MonaServer writes one (ScriptReader falls back to writing the table's fields).
 */
export const dictionaryAsObject = (dictionary: AmfDictionary): Record<string, ScriptData> => {
  const object: Record<string, ScriptData> = {};
  for (const [key, value] of dictionary.entries) {
    if (typeof key === 'string' || typeof key === 'number') {
      Object.defineProperty(object, String(key), { value, enumerable: true, writable: true, configurable: true });
    }
  }
  object.__size = dictionary.entries.length;
  return object;
};

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * ISO 8601 in UTC. Extended ("2014-09-30T13:15:17.000Z", MonaServer's XML-RPC form) or basic
 * ("20140930T131517Z", its query form; milliseconds only when there are some).
 */
export const formatDate = (date: Date, basic: boolean): string | null => {
  const time = date.getTime();
  if (!Number.isFinite(time)) {
    return null;
  }
  if (!basic) {
    return date.toISOString();
  }
  const ms = date.getUTCMilliseconds();
  const clock = `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}${ms === 0 ? '' : `.${pad(ms, 3)}`}`;
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}T${clock}Z`;
};

const ISO_DATE = /^(\d{4})(-?)(\d{2})\2(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO 8601 date or date-time (extended or basic; a basic one needs its time part, so that
 * "20140930" stays a number). Without a zone it is local time, as MonaServer reads it.
 */
export const parseDate = (text: string): Date | null => {
  const m = ISO_DATE.exec(text.trim());
  if (m === null || (m[2] === '' && m[5] === undefined)) {
    return null;
  }
  const [year, month, day] = [Number(m[1]), Number(m[3]), Number(m[4])];
  const [hour, minute, second] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[7] ?? 0)];
  const ms = m[8] === undefined ? 0 : Math.round(Number(`0.${m[8]}`) * 1000);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) {
    return null;
  }
  const zone = m[9];
  if (zone === undefined) {
    return new Date(year, month - 1, day, hour, minute, second, ms);
  }
  let offset = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    offset = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0)) * (zone.startsWith('-') ? -1 : 1);
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000);
};

/**
 * The fields of a date as Lua's os.date("*t") has them (local time; month 1-12, wday 1-7 from
 * Sunday, yday 1-366), with `msec`: what MonaServer puts beside `__time` in a date table.
 */
export const dateFields = (date: Date): Record<string, number | boolean> => {
  const year = date.getFullYear();
  const startOfYear = new Date(year, 0, 1);
  const january = new Date(year, 0, 1).getTimezoneOffset();
  const july = new Date(year, 6, 1).getTimezoneOffset();
  return {
    year,
    month: date.getMonth() + 1,
    day: date.getDate(),
    yday: Math.round((new Date(year, date.getMonth(), date.getDate()).getTime() - startOfYear.getTime()) / 86_400_000) + 1,
    wday: date.getDay() + 1,
    hour: date.getHours(),
    min: date.getMinutes(),
    sec: date.getSeconds(),
    msec: date.getMilliseconds(),
    isdst: january !== july && date.getTimezoneOffset() === Math.min(january, july),
  };
};

/** JS apps have no byte strings: the values of a decoded query or XML-RPC call give them as Buffers. */
export const forJs = (value: ScriptData): unknown => {
  if (value instanceof AmfByteString) {
    return value.bytes;
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const object = value as Record<string, ScriptData>;
    for (const key of Object.keys(object)) {
      const v = object[key];
      if (v instanceof AmfByteString) {
        object[key] = v.bytes;
      }
    }
  }
  return value;
};
