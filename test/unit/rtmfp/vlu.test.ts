import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeVlu, readVlu, vluLength, writeVlu } from '../../../src/protocols/rtmfp/vlu.js';
import { WireReader } from '../../../src/protocols/rtmfp/WireReader.js';

const read = (bytes: number[] | Buffer): [number, number] => {
  const at = { pos: 0 };
  const buf = Buffer.from(bytes);
  const value = readVlu(buf, buf.length, at);
  return [value, at.pos];
};

void describe('VLU', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8100'],
    [129, '8101'],
    [16383, 'ff7f'],
    [16384, '818000'],
    [0xff7f, '83fe7f'],
    [2 ** 21 - 1, 'ffff7f'],
    [2 ** 21, '81808000'],
    [2 ** 28 - 1, 'ffffff7f'],
    [2 ** 28, '8180808000'],
    [2 ** 32, '9080808000'],
    [Number.MAX_SAFE_INTEGER, '8fffffffffffff7f'],
  ];

  void it('encodes and decodes the edge values', () => {
    for (const [value, hex] of cases) {
      assert.equal(encodeVlu(value).toString('hex'), hex, `encode ${value}`);
      assert.equal(vluLength(value), hex.length / 2, `length ${value}`);
      assert.deepEqual(read(Buffer.from(hex, 'hex')), [value, hex.length / 2], `decode ${hex}`);
    }
  });

  void it('matches the observed wire samples', () => {
    // librtmfp ack buffer (rtmfp.md §5.3) and Flash's 16383.
    assert.deepEqual(read([0x83, 0xfe, 0x7f]), [0xff7f, 3]);
    assert.deepEqual(read([0xff, 0x7f]), [16383, 2]);
  });

  void it('round-trips any safe integer at any offset', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat(5), (value, offset) => {
        const buf = Buffer.alloc(offset + 10, 0xee);
        const end = writeVlu(buf, offset, value);
        assert.equal(end - offset, vluLength(value));
        const at = { pos: offset };
        assert.equal(readVlu(buf, buf.length, at), value);
        assert.equal(at.pos, end);
      }),
      { numRuns: 2000 },
    );
  });

  void it('fails on truncation without moving, and on values over 2^53 - 1', () => {
    for (const bytes of [[], [0x80], [0xff, 0xff], [0x81, 0x80, 0x80]]) {
      assert.deepEqual(read(bytes), [-1, 0], JSON.stringify(bytes));
    }
    assert.deepEqual(read(Buffer.from('908080808080808000', 'hex')), [-1, 0], '2^60');
    assert.deepEqual(read(Buffer.from('ffffffffffffffffffffff7f', 'hex')), [-1, 0]);
  });

  void it('accepts non-minimal encodings (leading 0x80)', () => {
    assert.deepEqual(read([0x80, 0x80, 0x05]), [5, 3]);
  });

  void it('WireReader.vlu fails sticky and never throws on random bytes', () => {
    const r = new WireReader();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const buf = Buffer.from(bytes);
        r.reset(buf, 0, buf.length);
        let reads = 0;
        while (!r.failed && r.remaining > 0 && reads < 50) {
          r.vlu();
          reads++;
        }
        assert.ok(r.pos <= buf.length);
        if (r.failed) {
          assert.equal(r.vlu(), -1);
          assert.equal(r.bytes(1), null);
        }
      }),
    );
  });
});
