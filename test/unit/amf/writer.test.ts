/** AmfWriter behaviour: references and cycles, limits, failure rollback, buffer management. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AmfEcmaArray,
  AmfEncodeError,
  AmfReader,
  AmfTypedObject,
  AmfVector,
  AmfWriter,
  decodeAmf0,
  decodeAmf3,
  encodeAmf0,
  encodeAmf3,
} from '../../../src/amf/index.js';
import { hex, str16, str29 } from './amfTestKit.js';

const isEncodeError = (err: unknown): boolean => err instanceof AmfEncodeError && err.code === 'MS_ERR_AMF_ENCODE';

const nestedArrays = (depth: number): unknown[] => {
  const root: unknown[] = [];
  let current = root;
  for (let i = 1; i < depth; i++) {
    const next: unknown[] = [];
    current.push(next);
    current = next;
  }
  return root;
};

void describe('AmfWriter', () => {
  void it('AMF0 with amf0References: an object written twice becomes a 0x07 reference', () => {
    const shared = { a: 1 };
    const bytes = new AmfWriter(256, { amf0References: true }).writeAmf0([shared, shared]).toBuffer();
    assert.deepStrictEqual(bytes, hex('0a 00000002 03', str16('a'), '00 3ff0000000000000 000009 07 0001'));
  });

  void it('AMF0: references span the values written since reset()', () => {
    const shared = {};
    const writer = new AmfWriter(256, { amf0References: true });
    writer.writeAmf0(shared).writeAmf0(shared);
    assert.deepStrictEqual(writer.toBuffer(), hex('03 000009 07 0000'));
    writer.reset();
    writer.writeAmf0(shared);
    assert.deepStrictEqual(writer.toBuffer(), hex('03 000009'));
  });

  void it('AMF0: a cycle is written as a reference and decodes as the same cycle', () => {
    const node: Record<string, unknown> = { name: 'n' };
    node.self = node;
    node.list = [node];
    const [decoded] = decodeAmf0(new AmfWriter(256, { amf0References: true }).writeAmf0(node).toBuffer()) as [Record<string, unknown>];
    assert.strictEqual(decoded.self, decoded);
    assert.strictEqual((decoded.list as unknown[])[0], decoded);
  });

  void it('AMF0 without references: repeats are written in full, cycles are an AmfEncodeError', () => {
    const shared = { a: 1 };
    const writer = new AmfWriter(64, { amf0References: false });
    writer.writeAmf0([shared, shared]);
    const [array] = new AmfReader(writer.toBuffer()).readAllAmf0() as [unknown[]];
    assert.notStrictEqual(array[0], array[1]);
    assert.deepStrictEqual(array[0], array[1]);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => writer.writeAmf0(cycle), isEncodeError);
  });

  void it('AMF3: object, string and traits references are used', () => {
    const shared = { a: 'x' };
    assert.deepStrictEqual(encodeAmf3([shared, shared, 'x']), hex('09 07 01 0a 0b 01', str29('a'), '06', str29('x'), '01 0a 02 06 02'));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.deepStrictEqual(encodeAmf3(cycle), hex('0a 0b 01', str29('self'), '0a 00 01'));
  });

  void it('AMF3: the same Date and Buffer instances are written as references', () => {
    const date = new Date(0);
    const bytes = Buffer.from([7]);
    const [d1, d2, b1, b2] = decodeAmf3(encodeAmf3([date, date, bytes, bytes])) as [Date, Date, Buffer, Buffer];
    assert.strictEqual(d1, d2);
    assert.strictEqual(b1, b2);
  });

  void it('AMF3 tables are shared across 0x11 values of one writer', () => {
    const writer = new AmfWriter();
    writer.writeAmf0SwitchToAmf3('foo').writeAmf0SwitchToAmf3('foo');
    assert.deepStrictEqual(writer.toBuffer(), hex('11 06', str29('foo'), '11 06 00'));
    assert.deepStrictEqual(decodeAmf0(writer.toBuffer()), ['foo', 'foo']);
  });

  void it("AMF3: an ECMA entry named '' cannot be written and is left out", () => {
    assert.deepStrictEqual(encodeAmf3(new AmfEcmaArray({ '': 1, a: 2 })), hex('09 01', str29('a'), '04 02 01'));
  });

  void it('known externalizable classes are written externalized', () => {
    const collection = new AmfTypedObject('flex.messaging.io.ArrayCollection', { source: ['a'] });
    const bytes = encodeAmf3([collection, new AmfTypedObject('flex.messaging.io.ArrayCollection', { source: [] })]);
    // second instance reuses traits 0
    assert.deepStrictEqual(bytes.subarray(-5), hex('0a 01 09 01 01'));
    assert.deepStrictEqual(decodeAmf3(bytes), [collection, new AmfTypedObject('flex.messaging.io.ArrayCollection', { source: [] })]);
  });

  void it('values outside the model: function and symbol as undefined, bigint as a number', () => {
    assert.deepStrictEqual(encodeAmf0(() => 1, Symbol('s'), 5n), hex('06 06 00 4014000000000000'));
    assert.deepStrictEqual(encodeAmf3([() => 1, 5n]), hex('09 05 01 00 04 05'));
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    assert.deepStrictEqual(decodeAmf0(encodeAmf0(new Point(1, 2))), [{ x: 1, y: 2 }]);
  });

  void it('invalid vector elements are an AmfEncodeError', () => {
    assert.throws(() => encodeAmf3(new AmfVector('int', [2 ** 31])), isEncodeError);
    assert.throws(() => encodeAmf3(new AmfVector('int', [1.5])), isEncodeError);
    assert.throws(() => encodeAmf3(new AmfVector('uint', [-1])), isEncodeError);
    assert.throws(() => encodeAmf3(new AmfVector('double', ['x'])), isEncodeError);
  });

  void it('too-long AMF0 property names and class names are an AmfEncodeError', () => {
    const long = 'k'.repeat(65536);
    assert.throws(() => encodeAmf0({ [long]: 1 }), isEncodeError);
    assert.throws(() => encodeAmf0(new AmfTypedObject(long)), isEncodeError);
  });

  void it('nesting is limited to maxDepth containers when writing too', () => {
    assert.deepStrictEqual(decodeAmf0(encodeAmf0(nestedArrays(64))), [nestedArrays(64)]);
    assert.throws(() => encodeAmf0(nestedArrays(65)), isEncodeError);
    assert.throws(() => encodeAmf3(nestedArrays(65)), isEncodeError);
    assert.throws(() => encodeAmf0(nestedArrays(100000)), isEncodeError);
    const deep = new AmfWriter(16, { maxDepth: 200 }).writeAmf3(nestedArrays(200)).toBuffer();
    assert.deepStrictEqual(new AmfReader(deep, 0, { maxDepth: 200 }).readAmf3(), nestedArrays(200));
  });

  void it('a failed write leaves neither bytes nor references behind', () => {
    const writer = new AmfWriter();
    writer.writeAmf3('a');
    const shared = { s: 'b' };
    assert.throws(() => writer.writeAmf3([shared, 'c', new AmfVector('int', [0.5])]), isEncodeError);
    assert.deepStrictEqual(writer.toBuffer(), hex('06', str29('a')));
    // 'b', 'c' and `shared` were rolled back: written again they are inline, not references
    writer.writeAmf3(shared).writeAmf3('c').writeAmf3('a');
    assert.deepStrictEqual(writer.toBuffer(), hex('06', str29('a'), '0a 0b 01', str29('s'), '06', str29('b'), '01 06', str29('c'), '06 00'));
    const reader = new AmfReader(writer.toBuffer());
    assert.deepStrictEqual([reader.readAmf3(), reader.readAmf3(), reader.readAmf3(), reader.readAmf3()], ['a', shared, 'c', 'a']);

    const amf0 = new AmfWriter();
    amf0.writeAmf0({});
    assert.throws(() => amf0.writeAmf0([{}, { ['k'.repeat(70000)]: 1 }]), isEncodeError);
    amf0.writeAmf0({});
    assert.deepStrictEqual(amf0.toBuffer(), hex('03 000009 03 000009'));
  });

  void it('grows from a tiny initial size and toBuffer returns an independent copy', () => {
    const writer = new AmfWriter(1);
    const big = 'y'.repeat(200000);
    writer.writeAmf0(big).writeAmf3(big);
    const out = writer.toBuffer();
    assert.equal(writer.length, out.length);
    const reader = new AmfReader(out);
    assert.equal(reader.readAmf0(), big);
    assert.equal(reader.readAmf3(), big);
    out[0] = 0xff;
    assert.equal(writer.toBuffer()[0], 0x0c);
  });

  void it('AMF0 Date carries a zero time zone; AMF3 Date a U29 of 1', () => {
    assert.deepStrictEqual(encodeAmf0(new Date(1000)), hex('0b 408f400000000000 0000'));
    assert.deepStrictEqual(encodeAmf3(new Date(1000)), hex('08 01 408f400000000000'));
  });
});
