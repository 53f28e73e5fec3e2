/**
 * Shared helpers for the AMF tests: hex vectors, fast-check arbitraries for the whole value model,
 * and the "what should come back" model of each format's lossy corners.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AmfObject, AmfValue } from '../../../src/amf/index.js';
import {
  AmfByteString,
  AmfDictionary,
  AmfEcmaArray,
  AmfParseError,
  AmfTypedObject,
  AmfVector,
  AmfXml,
  externalizableBodyProperty,
  setProperty,
} from '../../../src/amf/index.js';

/** Bytes from hex with any spacing: hex('02 00 03', '616263'). */
export const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

/** Hex of a U16-length-prefixed UTF-8 string (AMF0 string body, property name, class name). */
export const str16 = (s: string): string => {
  const body = Buffer.from(s, 'utf8');
  return body.length.toString(16).padStart(4, '0') + body.toString('hex');
};

/** Hex of an inline AMF3 UTF-8-vr of fewer than 64 bytes (one-byte U29 header). */
export const str29 = (s: string): string => {
  const body = Buffer.from(s, 'utf8');
  assert.ok(body.length < 64);
  return ((body.length << 1) | 1).toString(16).padStart(2, '0') + body.toString('hex');
};

/** Runs `fn`; anything it throws must be an AmfParseError. Returns whether it threw. */
export const onlyParseErrors = (fn: () => unknown): boolean => {
  try {
    fn();
    return false;
  } catch (err) {
    if (!(err instanceof AmfParseError)) {
      throw err;
    }
    assert.equal(err.code, 'MS_ERR_AMF_PARSE');
    return true;
  }
};

export const throwsParseError = (fn: () => unknown, message?: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof AmfParseError && (message === undefined || message.test(err.message)));
};

const text = fc.string({ unit: 'binary', maxLength: 12 });
const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('', '__proto__', '0', '1', 'length', 'constructor'));
const dictOf = (value: fc.Arbitrary<AmfValue>): fc.Arbitrary<AmfObject> =>
  fc.dictionary(key, value, { maxKeys: 4, noNullPrototype: true });

const vector: fc.Arbitrary<AmfVector> = fc.oneof(
  fc.tuple(fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { maxLength: 6 }), fc.boolean()).map(([items, fixed]) => new AmfVector('int', items, fixed)),
  fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 6 }), fc.boolean()).map(([items, fixed]) => new AmfVector('uint', items, fixed)),
  fc.tuple(fc.array(fc.double(), { maxLength: 6 }), fc.boolean()).map(([items, fixed]) => new AmfVector('double', items, fixed)),
);

/** Any value of the model, nested a few levels. Object vectors and dictionaries nest values too. */
export const amfValue: fc.Arbitrary<AmfValue> = fc.letrec<{ value: AmfValue; leaf: AmfValue; container: AmfValue }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('leaf'), tie('container')),
  leaf: fc.oneof(
    fc.double(),
    fc.integer({ min: -(2 ** 29), max: 2 ** 29 }),
    fc.boolean(),
    text,
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 8 }),
    fc.tuple(text, fc.boolean()).map(([xml, document]) => new AmfXml(xml, document)),
    vector,
  ),
  container: fc.oneof(
    fc.array(tie('value'), { maxLength: 5 }),
    dictOf(tie('value')),
    fc.tuple(dictOf(tie('value')), fc.array(tie('value'), { maxLength: 3 })).map(([entries, items]) => new AmfEcmaArray(entries, items)),
    fc.tuple(text, dictOf(tie('value'))).map(([className, properties]) => new AmfTypedObject(className, properties)),
    fc.tuple(fc.array(tie('value'), { maxLength: 4 }), fc.boolean(), text).map(([items, fixed, typeName]) => new AmfVector('object', items, fixed, typeName)),
    fc.tuple(fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }), fc.boolean()).map(([entries, weak]) => new AmfDictionary(entries, weak)),
  ),
})).value;

export interface DecodeMode {
  format: 'amf0' | 'amf3';
  binaryStrings: boolean;
}

/**
 * The value a decoder should return for `value` written in `mode.format`: AMF0 has no dense ECMA
 * part, no E4X XML and no ByteArray (bytes travel as a string); AMF3 cannot carry a '' ECMA entry,
 * an ECMA array with no entries is a plain array, and a class-less typed object is a plain object.
 * Vectors and dictionaries are always AMF3 inside. binaryStrings turns string values into Buffers.
 */
export const expectedDecode = (value: AmfValue, mode: DecodeMode): AmfValue => {
  const again = (v: AmfValue): AmfValue => expectedDecode(v, mode);
  const props = (object: AmfObject, target: AmfObject = {}): AmfObject => {
    for (const k of Object.keys(object)) {
      setProperty(target, k, again(object[k]));
    }
    return target;
  };
  if (typeof value === 'string') {
    return mode.binaryStrings ? Buffer.from(value, 'utf8') : value;
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  if (value instanceof Uint8Array) {
    return mode.format === 'amf0' && !mode.binaryStrings ? Buffer.from(value).toString('utf8') : Buffer.from(value);
  }
  if (value instanceof AmfByteString) {
    // Not generated: the string of raw bytes that readers with byteStrings give.
    return mode.binaryStrings ? Buffer.from(value.bytes) : value.bytes.toString('utf8');
  }
  if (value instanceof Date) {
    return new Date(value.getTime());
  }
  if (Array.isArray(value)) {
    return value.map(again);
  }
  if (value instanceof AmfEcmaArray) {
    if (mode.format === 'amf0') {
      const entries: AmfObject = {};
      value.items.forEach((item, i) => setProperty(entries, String(i), again(item)));
      return new AmfEcmaArray(props(value.entries, entries), []);
    }
    const entries = props(value.entries);
    delete entries[''];
    return Object.keys(entries).length === 0 ? value.items.map(again) : new AmfEcmaArray(entries, value.items.map(again));
  }
  if (value instanceof AmfTypedObject) {
    assert.equal(externalizableBodyProperty(value.className), undefined, 'generator hit an externalizable class');
    if (mode.format === 'amf3' && value.className === '') {
      return props(value.properties);
    }
    return new AmfTypedObject(value.className, props(value.properties));
  }
  if (value instanceof AmfXml) {
    return new AmfXml(value.xml, mode.format === 'amf0' ? true : value.document);
  }
  const amf3: DecodeMode = { format: 'amf3', binaryStrings: mode.binaryStrings };
  if (value instanceof AmfVector) {
    return new AmfVector(value.kind, value.items.map((v) => expectedDecode(v, amf3)), value.fixed, value.kind === 'object' ? value.typeName : '');
  }
  if (value instanceof AmfDictionary) {
    return new AmfDictionary(
      value.entries.map(([k, v]) => [expectedDecode(k, amf3), expectedDecode(v, amf3)]),
      value.weakKeys,
    );
  }
  return props(value);
};
