/** Hand-written AMF3 byte vectors: every marker, U29 boundaries and the three reference tables. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AmfDictionary,
  AmfEcmaArray,
  AmfReader,
  AmfTypedObject,
  AmfVector,
  AmfXml,
  decodeAmf3,
  encodeAmf3,
} from '../../../src/amf/index.js';
import { hex, str29, throwsParseError } from './amfTestKit.js';

/** Asserts that `bytes` decodes to `value` and that encoding `value` gives back `bytes`. */
const both = (bytes: Buffer, value: unknown): void => {
  assert.deepStrictEqual(decodeAmf3(bytes), value);
  assert.equal(encodeAmf3(value).toString('hex'), bytes.toString('hex'));
};

const FLEX_ARRAY_COLLECTION = 'flex.messaging.io.ArrayCollection';

void describe('AMF3 vectors', () => {
  void it('0x00-0x03 undefined, null, false, true', () => {
    both(hex('00'), undefined);
    both(hex('01'), null);
    both(hex('02'), false);
    both(hex('03'), true);
  });

  void it('0x04 integer at every U29 length boundary', () => {
    const cases: Array<[number, string]> = [
      [0, '04 00'],
      [127, '04 7f'],
      [128, '04 8100'],
      [16383, '04 ff7f'],
      [16384, '04 818000'],
      [2 ** 21 - 1, '04 ffff7f'],
      [2 ** 21, '04 80c08000'],
      [2 ** 28 - 1, '04 bfffffff'],
      [-1, '04 ffffffff'],
      [-(2 ** 28), '04 c0808000'],
    ];
    for (const [value, bytes] of cases) {
      both(hex(bytes), value);
    }
  });

  void it('0x05 double for non-integers, -0 and integers outside 29 bits', () => {
    both(hex('05 3ff8000000000000'), 1.5);
    both(hex('05 8000000000000000'), -0);
    both(hex('05 41b0000000000000'), 2 ** 28);
    both(hex('05 c1b0000001000000'), -(2 ** 28) - 1);
    both(hex('05 7ff0000000000000'), Infinity);
    assert.ok(Number.isNaN(decodeAmf3(hex('05 7ff8000000000000'))));
  });

  void it('0x06 string, with the empty string never entering the table', () => {
    both(hex('06', str29('foo')), 'foo');
    both(hex('06 01'), '');
    both(hex('06 05 c3a9'), 'é');
    // ['', '', 'a', 'a']: the empties stay inline, 'a' is string 0
    both(hex('09 09 01 06 01 06 01 06', str29('a'), '06 00'), ['', '', 'a', 'a']);
  });

  void it('0x06 string length over 63 bytes takes a two-byte U29', () => {
    const s = 'z'.repeat(64);
    both(hex('06 8101', Buffer.from(s).toString('hex')), s);
  });

  void it('0x07 XMLDocument and 0x0b XML', () => {
    both(hex('07 09 3c612f3e'), new AmfXml('<a/>', true));
    both(hex('0b 09 3c612f3e'), new AmfXml('<a/>', false));
  });

  void it('0x08 date', () => {
    both(hex('08 01 4278bcfe56800000'), new Date(1700000000000));
  });

  void it('0x09 dense array, associative array and mixed array', () => {
    both(hex('09 07 01 04 01 04 02 04 03'), [1, 2, 3]);
    both(hex('09 01', str29('a'), '04 01 01'), new AmfEcmaArray({ a: 1 }));
    both(hex('09 03', str29('k'), '03 01 06', str29('v')), new AmfEcmaArray({ k: true }, ['v']));
  });

  void it('0x0a anonymous dynamic object', () => {
    both(hex('0a 0b 01', str29('a'), '04 01', str29('b'), '06', str29('x'), '01'), { a: 1, b: 'x' });
    both(hex('0a 0b 01 01'), {});
  });

  void it("0x0a object with a '' key sends it as the only sealed member", () => {
    both(hex('0a 1b 01 01 04 01', str29('b'), '04 02 01'), { '': 1, b: 2 });
  });

  void it('0x0a typed object: sealed members, sealed plus dynamic', () => {
    both(hex('0a 23', str29('Point'), str29('x'), str29('y'), '04 01 04 02'), new AmfTypedObject('Point', { x: 1, y: 2 }));
    assert.deepStrictEqual(decodeAmf3(hex('0a 1b', str29('Foo'), str29('a'), '04 01', str29('b'), '04 02 01')), new AmfTypedObject('Foo', { a: 1, b: 2 }));
  });

  void it('0x0a sealed anonymous traits decode to a plain object', () => {
    assert.deepStrictEqual(decodeAmf3(hex('0a 13 01', str29('a'), '04 05')), { a: 5 });
  });

  void it('0x0a externalizable ArrayCollection decodes its one-value body under source', () => {
    const bytes = hex('0a 07 43', Buffer.from(FLEX_ARRAY_COLLECTION).toString('hex'), '09 05 01 04 01 04 02');
    both(bytes, new AmfTypedObject(FLEX_ARRAY_COLLECTION, { source: [1, 2] }));
  });

  void it('0x0a unknown externalizable class cannot be skipped: AmfParseError', () => {
    throwsParseError(() => decodeAmf3(hex('0a 07', str29('com.example.Opaque'), '00')), /externalizable class 'com.example.Opaque'/);
  });

  void it('0x0c ByteArray', () => {
    both(hex('0c 07 010203'), Buffer.from([1, 2, 3]));
    assert.equal(encodeAmf3(new Uint8Array([9])).toString('hex'), '0c0309');
  });

  void it('0x0d-0x10 vectors', () => {
    both(hex('0d 05 00 00000001 fffffffe'), new AmfVector('int', [1, -2]));
    both(hex('0e 03 01 ffffffff'), new AmfVector('uint', [0xffffffff], true));
    both(hex('0f 03 00 3ff8000000000000'), new AmfVector('double', [1.5]));
    both(hex('10 05 00', str29('T'), '04 01 06', str29('a')), new AmfVector('object', [1, 'a'], false, 'T'));
  });

  void it('0x11 dictionary with arbitrary keys', () => {
    both(hex('11 05 00 04 01 06', str29('a'), '0a 0b 01 01 03'), new AmfDictionary([[1, 'a'], [{}, true]]));
  });

  void it('object reference: the second occurrence is the same JS object', () => {
    const bytes = hex('09 05 01 0a 0b 01', str29('a'), '04 01 01 0a 02');
    const shared = { a: 1 };
    both(bytes, [shared, shared]);
    const [first, second] = decodeAmf3(bytes) as [unknown, unknown];
    assert.strictEqual(first, second);
  });

  void it('object reference to the enclosing array decodes as a cycle', () => {
    const array = decodeAmf3(hex('09 03 01 09 00')) as unknown[];
    assert.strictEqual(array[0], array);
  });

  void it('date and ByteArray go through the object table too', () => {
    const [d1, d2, b1, b2] = decodeAmf3(hex('09 09 01 08 01 4278bcfe56800000 08 02 0c 03 ff 0c 04')) as [Date, Date, Buffer, Buffer];
    assert.strictEqual(d1, d2);
    assert.strictEqual(b1, b2);
  });

  void it('traits reference: objects of the same shape share one traits entry', () => {
    // both anonymous objects use traits 0; 'a' is string 0, so the second key is a string reference
    const bytes = hex('09 05 01 0a 0b 01', str29('a'), '04 01 01 0a 01 00 04 02 01');
    both(bytes, [{ a: 1 }, { a: 2 }]);
    const typed = [new AmfTypedObject('P', { x: 1 }), new AmfTypedObject('P', { x: 2 })];
    both(hex('09 05 01 0a 13', str29('P'), str29('x'), '04 01 0a 01 04 02'), typed);
  });

  void it('bad references fail with AmfParseError', () => {
    throwsParseError(() => decodeAmf3(hex('06 00')), /string reference 0 not found/);
    throwsParseError(() => decodeAmf3(hex('0a 00')), /object reference 0 not found/);
    throwsParseError(() => decodeAmf3(hex('0a 05')), /traits reference 1 not found/);
  });

  void it('unknown markers, trailing bytes and truncation fail with AmfParseError', () => {
    throwsParseError(() => decodeAmf3(hex('12')), /unknown AMF3 marker 0x12/);
    throwsParseError(() => decodeAmf3(hex('01 01')), /trailing/);
    throwsParseError(() => decodeAmf3(hex('04 ff ff')), /truncated/);
    throwsParseError(() => decodeAmf3(hex('06 07 6161')), /truncated/);
  });

  void it('binaryStrings: values become Buffers, keys stay strings, references share one Buffer', () => {
    const bytes = hex('09 05', str29('k'), '06', str29('v'), '01 06 00 06 02');
    const decoded = decodeAmf3(bytes, { binaryStrings: true }) as AmfEcmaArray;
    assert.deepStrictEqual(decoded, new AmfEcmaArray({ k: Buffer.from('v') }, [Buffer.from('k'), Buffer.from('v')]));
    assert.strictEqual(decoded.items[1], decoded.entries.k);
  });

  void it('readAmf3 reads consecutive values sharing the tables', () => {
    const reader = new AmfReader(hex('06', str29('foo'), '06 00'));
    assert.equal(reader.readAmf3(), 'foo');
    assert.equal(reader.readAmf3(), 'foo');
    assert.equal(reader.remaining, 0);
  });
});
