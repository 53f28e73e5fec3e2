/** Hand-written AMF0 byte vectors, one or more per marker, decoded and (where canonical) encoded. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AmfDictionary,
  AmfEcmaArray,
  AmfReader,
  AmfTypedObject,
  AmfVector,
  AmfXml,
  decodeAmf0,
  encodeAmf0,
} from '../../../src/amf/index.js';
import { hex, str16, str29, throwsParseError } from './amfTestKit.js';

/** Asserts that `bytes` decodes to `values` and that encoding `values` gives back `bytes`. */
const both = (bytes: Buffer, ...values: unknown[]): void => {
  assert.deepStrictEqual(decodeAmf0(bytes), values);
  assert.deepStrictEqual(encodeAmf0(...values).toString('hex'), bytes.toString('hex'));
};

void describe('AMF0 vectors', () => {
  void it('decodes and encodes an RTMP connect command as ffmpeg sends it', () => {
    const bytes = hex(
      '02', str16('connect'),
      '00 3ff0000000000000',
      '03',
      str16('app'), '02', str16('live'),
      str16('type'), '02', str16('nonprivate'),
      str16('flashVer'), '02', str16('FMLE/3.0 (compatible; Lavf61.7.100)'),
      str16('tcUrl'), '02', str16('rtmp://localhost:1935/live'),
      '00 00 09',
    );
    both(bytes, 'connect', 1, {
      app: 'live',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; Lavf61.7.100)',
      tcUrl: 'rtmp://localhost:1935/live',
    });
  });

  void it('0x00 number', () => {
    both(hex('00 400921fb54442d18'), Math.PI);
    both(hex('00 8000000000000000'), -0);
    assert.ok(Number.isNaN(decodeAmf0(hex('00 7ff8000000000000'))[0]));
  });

  void it('0x01 boolean: any non-zero byte is true', () => {
    both(hex('01 00'), false);
    both(hex('01 01'), true);
    assert.deepStrictEqual(decodeAmf0(hex('01 02')), [true]);
  });

  void it('0x02 string, UTF-8', () => {
    both(hex('02', str16('abc')), 'abc');
    both(hex('02 0000'), '');
    both(hex('02 0002 c3a9'), 'é');
    both(hex('02 0004 f09f8ea5'), '\u{1F3A5}');
  });

  void it('0x03 object, including an empty one and a nested one', () => {
    both(hex('03 000009'), {});
    both(hex('03', str16('a'), '03', str16('b'), '05', '000009', '000009'), { a: { b: null } });
  });

  void it("0x03 object: an empty key not followed by 0x09 is a property named ''", () => {
    both(hex('03 0000 00 3ff0000000000000 000009'), { '': 1 });
  });

  void it('0x03 object: a __proto__ key is an own property, not a prototype change', () => {
    const [object] = decodeAmf0(hex('03', str16('__proto__'), '03 000009', '000009')) as [Record<string, unknown>];
    assert.equal(Object.getPrototypeOf(object), Object.prototype);
    assert.deepStrictEqual(Object.keys(object), ['__proto__']);
    assert.deepStrictEqual(encodeAmf0(object), hex('03', str16('__proto__'), '03 000009', '000009'));
  });

  void it('0x04 movieclip and 0x0e recordset are reserved', () => {
    throwsParseError(() => decodeAmf0(hex('04')), /marker 0x04/);
    throwsParseError(() => decodeAmf0(hex('0e')), /marker 0x0e/);
  });

  void it('0x05 null, 0x06 undefined, 0x0d unsupported', () => {
    both(hex('05'), null);
    both(hex('06'), undefined);
    assert.deepStrictEqual(decodeAmf0(hex('0d')), [undefined]);
  });

  void it('0x07 reference resolves to the same object, counted in start order', () => {
    // strict array (ref 0) holding an object (ref 1) and a reference to that object
    const [array] = decodeAmf0(hex('0a 00000002', '03', str16('a'), '00 3ff0000000000000', '000009', '07 0001')) as [unknown[]];
    assert.equal(array.length, 2);
    assert.strictEqual(array[0], array[1]);
    assert.deepStrictEqual(array[0], { a: 1 });
  });

  void it('0x07 reference to an enclosing object decodes as a cycle', () => {
    const [object] = decodeAmf0(hex('03', str16('self'), '07 0000', '000009')) as [Record<string, unknown>];
    assert.strictEqual(object.self, object);
  });

  void it('0x07 references span the values of one message', () => {
    const values = decodeAmf0(hex('03 000009', '07 0000'));
    assert.strictEqual(values[0], values[1]);
  });

  void it('0x07 reference out of range fails', () => {
    throwsParseError(() => decodeAmf0(hex('07 0000')), /reference 0 not found/);
  });

  void it('0x08 ECMA array (onMetaData) round-trips as AmfEcmaArray', () => {
    const bytes = hex(
      '02', str16('onMetaData'),
      '08 00000003',
      str16('width'), '00 4094000000000000',
      str16('height'), '00 4086800000000000',
      str16('framerate'), '00 403e000000000000',
      '000009',
    );
    both(bytes, 'onMetaData', new AmfEcmaArray({ width: 1280, height: 720, framerate: 30 }));
  });

  void it('0x08 ECMA array: the declared count is ignored, the end marker decides', () => {
    assert.deepStrictEqual(decodeAmf0(hex('08 00000000', str16('a'), '05', '000009')), [new AmfEcmaArray({ a: null })]);
    assert.deepStrictEqual(decodeAmf0(hex('08 ffffffff 000009')), [new AmfEcmaArray()]);
  });

  void it('0x08 ECMA array: dense items are written as keys 0..n-1', () => {
    assert.deepStrictEqual(
      encodeAmf0(new AmfEcmaArray({ a: true }, ['x'])),
      hex('08 00000002', str16('0'), '02', str16('x'), str16('a'), '01 01', '000009'),
    );
  });

  void it('0x09 object end out of place fails', () => {
    throwsParseError(() => decodeAmf0(hex('09')), /marker 0x09/);
  });

  void it('0x0a strict array', () => {
    both(hex('0a 00000000'), []);
    both(hex('0a 00000003 00 3ff0000000000000 02', str16('b'), '05'), [1, 'b', null]);
  });

  void it('0x0b date: ms double then a time zone that is ignored', () => {
    both(hex('0b 4278bcfe56800000 0000'), new Date(1700000000000));
    assert.deepStrictEqual(decodeAmf0(hex('0b 4278bcfe56800000 ff88')), [new Date(1700000000000)]);
    const [invalid] = decodeAmf0(encodeAmf0(new Date(NaN))) as [Date];
    assert.ok(Number.isNaN(invalid.getTime()));
  });

  void it('0x0c long string, written for strings over 65535 bytes', () => {
    assert.deepStrictEqual(decodeAmf0(hex('0c 00000003 616263')), ['abc']);
    const long = 'x'.repeat(65536);
    const bytes = encodeAmf0(long);
    assert.equal(bytes.toString('hex', 0, 5), '0c00010000');
    assert.deepStrictEqual(decodeAmf0(bytes), [long]);
    const edge = 'x'.repeat(65535);
    assert.equal(encodeAmf0(edge).toString('hex', 0, 3), '02ffff');
  });

  void it('0x0c long string when multi-byte characters push a short string over 65535 bytes', () => {
    const s = 'é'.repeat(40000); // 40000 UTF-16 units, 80000 UTF-8 bytes
    const bytes = encodeAmf0(s, 'after');
    assert.equal(bytes.toString('hex', 0, 5), '0c00013880');
    assert.deepStrictEqual(decodeAmf0(bytes), [s, 'after']);
  });

  void it('0x0f XML document', () => {
    both(hex('0f 00000004 3c612f3e'), new AmfXml('<a/>', true));
    assert.deepStrictEqual(decodeAmf0(encodeAmf0(new AmfXml('<b/>', false))), [new AmfXml('<b/>', true)]);
  });

  void it('0x10 typed object', () => {
    both(hex('10', str16('com.example.Point'), str16('x'), '00 3ff0000000000000', str16('y'), '00 0000000000000000', '000009'), new AmfTypedObject('com.example.Point', { x: 1, y: 0 }));
  });

  void it('0x11 switches to AMF3 for exactly one value', () => {
    assert.deepStrictEqual(decodeAmf0(hex('11 04 7f', '00 3ff0000000000000', '11', '06', str29('foo'))), [127, 1, 'foo']);
    assert.deepStrictEqual(decodeAmf0(hex('11 0a 0b 01', str29('a'), '04 01 01')), [{ a: 1 }]);
  });

  void it('0x11: AMF3 reference tables persist across switches within one message', () => {
    // second value is a string reference (index 0) to the first value's 'foo'
    const bytes = hex('11 06', str29('foo'), '11 06 00');
    assert.deepStrictEqual(decodeAmf0(bytes), ['foo', 'foo']);
    const reader = new AmfReader(bytes);
    assert.equal(reader.readAmf0(), 'foo');
    reader.resetReferences();
    throwsParseError(() => reader.readAmf0(), /string reference 0 not found/);
  });

  void it('0x11 inside an AMF0 object', () => {
    both(hex('03', str16('v'), '11 0d 05 00 00000001 fffffffe', '000009'), { v: new AmfVector('int', [1, -2]) });
  });

  void it('vectors and dictionaries are written through 0x11 since AMF0 cannot hold them', () => {
    both(hex('11 11 03 01 04 01 06', str29('a')), new AmfDictionary([[1, 'a']], true));
  });

  void it('binaryStrings returns string values as raw bytes, keys stay strings', () => {
    const bytes = hex('03', str16('k'), '02 0002 ff00', '000009', '0c 00000001 41');
    const [object, long] = decodeAmf0(bytes, { binaryStrings: true }) as [Record<string, unknown>, Buffer];
    assert.deepStrictEqual(object, { k: Buffer.from([0xff, 0x00]) });
    assert.deepStrictEqual(long, Buffer.from('A'));
  });

  void it('a Buffer is written as a string of its raw bytes (long string beyond 65535 bytes)', () => {
    assert.deepStrictEqual(encodeAmf0(Buffer.from([0x00, 0xff, 0x10])), hex('02 0003 00ff10'));
    const big = Buffer.alloc(70000, 0xab);
    const bytes = encodeAmf0(big);
    assert.equal(bytes.toString('hex', 0, 5), '0c00011170');
    assert.deepStrictEqual(decodeAmf0(bytes, { binaryStrings: true }), [big]);
  });

  void it('truncated values fail with AmfParseError', () => {
    throwsParseError(() => new AmfReader(Buffer.alloc(0)).readAmf0(), /truncated/);
    throwsParseError(() => decodeAmf0(hex('00 3ff0')), /truncated/);
    throwsParseError(() => decodeAmf0(hex('02 0005 6162')), /truncated/);
    throwsParseError(() => decodeAmf0(hex('03', str16('a'), '05')), /truncated/);
  });

  void it('reads from an offset and reports position and remaining bytes', () => {
    const reader = new AmfReader(hex('ff ff 05 01 01'), 2);
    assert.equal(reader.readAmf0(), null);
    assert.equal(reader.offset, 3);
    assert.equal(reader.remaining, 2);
    assert.equal(reader.readAmf0(), true);
    assert.deepStrictEqual(reader.readAllAmf0(), []);
    throwsParseError(() => new AmfReader(hex('05'), 2), /outside/);
  });
});
