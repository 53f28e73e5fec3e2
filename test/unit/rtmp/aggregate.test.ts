import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { unpackAggregate } from '../../../src/protocols/rtmp/aggregate.js';

interface Tag {
  type: number;
  time: number;
  body: Buffer;
}

/** FLV tag as FMS puts it in an aggregate: header, body, back pointer. */
function flvTag(tag: Tag, backPointer = true): Buffer {
  const h = Buffer.alloc(11);
  h[0] = tag.type;
  h.writeUIntBE(tag.body.length, 1, 3);
  h.writeUIntBE(tag.time & 0xffffff, 4, 3);
  h[7] = tag.time >>> 24;
  h.writeUIntBE(1, 8, 3);
  const parts = [h, tag.body];
  if (backPointer) {
    const bp = Buffer.alloc(4);
    bp.writeUInt32BE(11 + tag.body.length);
    parts.push(bp);
  }
  return Buffer.concat(parts);
}

const tagArb = fc.record({
  type: fc.constantFrom(8, 9, 18),
  time: fc.nat({ max: 0xffffffff }),
  body: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
});

void test('sub-messages come back with timestamps rebased on the aggregate timestamp', () => {
  const payload = Buffer.concat([
    flvTag({ type: 9, time: 5000, body: Buffer.from([1, 2, 3]) }),
    flvTag({ type: 8, time: 5023, body: Buffer.from([4]) }),
    flvTag({ type: 9, time: 5040, body: Buffer.alloc(0) }),
  ]);
  const out = unpackAggregate(payload, 100);
  assert.deepEqual(
    out?.map((m) => [m.type, m.timestamp, [...m.payload]]),
    [[9, 100, [1, 2, 3]], [8, 123, [4]], [9, 140, []]],
  );
});

void test('rebasing uses 32-bit modular arithmetic', () => {
  const payload = Buffer.concat([
    flvTag({ type: 9, time: 0xfffffff0, body: Buffer.alloc(1) }),
    flvTag({ type: 9, time: 0x10, body: Buffer.alloc(1) }), // the tag clock wrapped
  ]);
  assert.deepEqual(unpackAggregate(payload, 0xffffffff)?.map((m) => m.timestamp), [0xffffffff, 0x1f]);
});

void test('any sequence of tags round-trips, with or without the last back pointer', () => {
  fc.assert(
    fc.property(fc.array(tagArb, { maxLength: 10 }), fc.nat({ max: 0xffffffff }), fc.boolean(), (tags, base, lastBp) => {
      const payload = Buffer.concat(tags.map((t, i) => flvTag(t, lastBp || i < tags.length - 1)));
      const out = unpackAggregate(payload, base);
      assert.ok(out !== null);
      assert.equal(out.length, tags.length);
      out.forEach((m, i) => {
        assert.equal(m.type, tags[i].type);
        assert.deepEqual(m.payload, tags[i].body);
        assert.equal(m.timestamp, (base + tags[i].time - tags[0].time) >>> 0);
      });
    }),
  );
});

void test('malformed input gives null, never throws', () => {
  const good = flvTag({ type: 9, time: 0, body: Buffer.alloc(20) });
  assert.equal(unpackAggregate(good.subarray(0, 10), 0), null, 'short header');
  assert.equal(unpackAggregate(good.subarray(0, 25), 0), null, 'body overruns');
  assert.equal(unpackAggregate(good.subarray(0, 33), 0), null, 'partial back pointer');
  assert.deepEqual(unpackAggregate(Buffer.alloc(0), 0), []);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 0xffffffff }), (bytes, ts) => {
      const out = unpackAggregate(Buffer.from(bytes), ts);
      assert.ok(out === null || Array.isArray(out));
    }),
  );
});
