/**
 * Hostile input: random bytes, every truncation and byte flips of valid encodings, deep nesting,
 * huge declared lengths. Nothing but AmfParseError may escape, and nothing may take long or
 * allocate in proportion to a declared (rather than actual) size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AmfReader, decodeAmf0, decodeAmf3, encodeAmf0, encodeAmf3 } from '../../../src/amf/index.js';
import { amfValue, hex, onlyParseErrors, str29, throwsParseError } from './amfTestKit.js';

const decodeEveryWay = (bytes: Uint8Array): void => {
  for (const binaryStrings of [false, true]) {
    onlyParseErrors(() => decodeAmf0(bytes, { binaryStrings }));
    onlyParseErrors(() => decodeAmf3(bytes, { binaryStrings }));
  }
};

/** Bytes biased towards markers, small U29s and length fields, to get past the first check. */
const markerSoup = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0x12 }), fc.constantFrom(0x00, 0x01, 0x03, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })), { maxLength: 300 })
  .map((a) => Uint8Array.from(a));

const elapsed = (fn: () => void): number => {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
};

void describe('AMF decoding of hostile input', () => {
  void it('random bytes only ever throw AmfParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodeEveryWay), { numRuns: 3000 });
  });

  void it('marker-heavy random bytes only ever throw AmfParseError', () => {
    fc.assert(fc.property(markerSoup, decodeEveryWay), { numRuns: 5000 });
  });

  void it('every truncation of a valid value fails with AmfParseError', () => {
    fc.assert(
      fc.property(amfValue, (value) => {
        const amf0 = encodeAmf0(value);
        const amf3 = encodeAmf3(value);
        for (let end = 0; end < amf0.length; end++) {
          assert.ok(onlyParseErrors(() => new AmfReader(amf0.subarray(0, end)).readAmf0()), `AMF0 prefix of ${end} bytes decoded`);
        }
        for (let end = 0; end < amf3.length; end++) {
          assert.ok(onlyParseErrors(() => new AmfReader(amf3.subarray(0, end)).readAmf3()), `AMF3 prefix of ${end} bytes decoded`);
        }
      }),
      { numRuns: 300 },
    );
  });

  void it('flipped bytes in valid encodings only ever throw AmfParseError', () => {
    fc.assert(
      fc.property(amfValue, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (value, flips) => {
        for (const encoded of [encodeAmf0(value), encodeAmf3(value)]) {
          for (const [at, byte] of flips) {
            encoded[at % encoded.length] = byte;
          }
          decodeEveryWay(encoded);
        }
      }),
      { numRuns: 2000 },
    );
  });

  void it('100000 nested AMF0 strict arrays give AmfParseError, not a stack overflow', () => {
    const bytes = Buffer.alloc(100000 * 5);
    for (let i = 0; i < 100000; i++) {
      hex('0a 00000001').copy(bytes, i * 5);
    }
    throwsParseError(() => decodeAmf0(bytes), /nesting deeper than 64/);
  });

  void it('deep nesting in every container kind gives AmfParseError', () => {
    const repeat = (unit: string, n: number): Buffer => hex(unit.repeat(n));
    const n = 100000;
    throwsParseError(() => decodeAmf0(repeat(`03 0001 61`, n)), /nesting/);
    throwsParseError(() => decodeAmf0(repeat(`08 00000001 0001 61`, n)), /nesting/);
    throwsParseError(() => decodeAmf0(repeat(`10 0000 0001 61`, n)), /nesting/);
    throwsParseError(() => decodeAmf3(repeat('09 03 01', n)), /nesting/);
    throwsParseError(() => decodeAmf3(repeat('0a 0b 01 03 61', n)), /nesting/);
    throwsParseError(() => decodeAmf3(repeat('10 03 00 01', n)), /nesting/);
    throwsParseError(() => decodeAmf3(repeat('11 03 00', n)), /nesting/);
    throwsParseError(() => decodeAmf0(repeat('11 09 03 01', n)), /nesting/);
  });

  void it('nesting is limited at exactly maxDepth containers', () => {
    const nested = (depth: number): Buffer => hex('0a 00000001'.repeat(depth), '05');
    assert.doesNotThrow(() => decodeAmf0(nested(64)));
    throwsParseError(() => decodeAmf0(nested(65)), /nesting deeper than 64/);
    assert.doesNotThrow(() => new AmfReader(nested(100), 0, { maxDepth: 100 }).readAmf0());
  });

  void it('a huge declared length or count on a tiny buffer fails at once without allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    const cases = [
      () => decodeAmf0(hex('0c ffffffff 61')),
      () => decodeAmf0(hex('0f ffffffff 61')),
      () => decodeAmf0(hex('0a ffffffff 05')),
      () => decodeAmf0(hex('02 ffff 61'), { binaryStrings: true }),
      () => decodeAmf3(hex('06 ffffffff 61')),
      () => decodeAmf3(hex('0c ffffffff 61')),
      () => decodeAmf3(hex('09 ffffffff 01 01')),
      () => decodeAmf3(hex('0f ffffffff 00 00')),
      () => decodeAmf3(hex('10 ffffffff 00 01 01')),
      () => decodeAmf3(hex('11 ffffffff 00 01 01')),
      () => decodeAmf3(hex('0a ffffffff 01 01')), // 2^25 sealed members declared
    ];
    for (const decode of cases) {
      assert.ok(elapsed(() => throwsParseError(decode)) < 200);
    }
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
  });

  void it('many references to one long string share one Buffer in binaryStrings mode', () => {
    const long = 'x'.repeat(60000);
    const refs = 20000;
    // array of one inline 60000-byte string followed by 20000 references to it
    const bytes = Buffer.concat([hex('09 82b843 01 06 87a941'), Buffer.from(long), hex('0600'.repeat(refs))]);
    assert.deepStrictEqual(encodeAmf3(new Array(refs + 1).fill(long)), bytes);
    const decoded = decodeAmf3(bytes, { binaryStrings: true }) as Buffer[];
    assert.equal(decoded.length, refs + 1);
    assert.equal(new Set(decoded).size, 1);
    assert.deepStrictEqual(decodeAmf3(bytes), new Array(refs + 1).fill(long));
  });

  void it('a large adversarial input is decoded or rejected quickly', () => {
    const soup = fc.sample(markerSoup, { numRuns: 2000, seed: 42 });
    const big = Buffer.concat(soup);
    const ms = elapsed(() => {
      decodeEveryWay(big);
      for (let at = 0; at < big.length; at += 97) {
        decodeEveryWay(big.subarray(at));
      }
    });
    assert.ok(ms < 5000, `took ${ms} ms`);
  });

  void it('a reader can go on after a failed value', () => {
    const reader = new AmfReader(hex('0a 00000001', '0a 00000001', '05'), 0, { maxDepth: 1 });
    throwsParseError(() => reader.readAmf0(), /nesting/);
    reader.offset = 5;
    assert.deepStrictEqual(reader.readAmf0(), [null]);
    const ok = new AmfReader(hex('11 06', str29('a')));
    assert.equal(ok.readAmf0(), 'a');
  });
});
