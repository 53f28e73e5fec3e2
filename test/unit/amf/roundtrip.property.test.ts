/** fast-check round trips of arbitrary nested values through both formats and the 0x11 switch. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AmfReader, AmfWriter, decodeAmf0, decodeAmf3, encodeAmf0, encodeAmf3 } from '../../../src/amf/index.js';
import { amfValue, expectedDecode } from './amfTestKit.js';

const runs = { numRuns: 400 };

void describe('AMF round trips (property based)', () => {
  for (const binaryStrings of [false, true]) {
    const mode = binaryStrings ? ' with binaryStrings' : '';

    void it(`AMF0: several values in one message${mode}`, () => {
      fc.assert(
        fc.property(fc.array(amfValue, { minLength: 1, maxLength: 4 }), (values) => {
          const decoded = decodeAmf0(encodeAmf0(...values), { binaryStrings });
          assert.deepStrictEqual(decoded, values.map((v) => expectedDecode(v, { format: 'amf0', binaryStrings })));
        }),
        runs,
      );
    });

    void it(`AMF3: one value${mode}`, () => {
      fc.assert(
        fc.property(amfValue, (value) => {
          const decoded = decodeAmf3(encodeAmf3(value), { binaryStrings });
          assert.deepStrictEqual(decoded, expectedDecode(value, { format: 'amf3', binaryStrings }));
        }),
        runs,
      );
    });

    void it(`AMF0 switched to AMF3 (0x11) per value, tables shared across the message${mode}`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(amfValue, fc.boolean()), { minLength: 1, maxLength: 4 }), (values) => {
          const writer = new AmfWriter(8);
          for (const [value, switched] of values) {
            if (switched) {
              writer.writeAmf0SwitchToAmf3(value);
            } else {
              writer.writeAmf0(value);
            }
          }
          const decoded = new AmfReader(writer.toBuffer(), 0, { binaryStrings }).readAllAmf0();
          const expected = values.map(([v, switched]) => expectedDecode(v, { format: switched ? 'amf3' : 'amf0', binaryStrings }));
          assert.deepStrictEqual(decoded, expected);
        }),
        runs,
      );
    });
  }

  void it('binary strings of arbitrary bytes survive AMF0 exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (chunks) => {
        const buffers = chunks.map((c) => Buffer.from(c));
        assert.deepStrictEqual(decodeAmf0(encodeAmf0(...buffers), { binaryStrings: true }), buffers);
      }),
    );
  });

  void it('AMF3 integers: the 29-bit range is an integer, everything else a double, both exact', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -(2 ** 28), max: 2 ** 28 - 1 }), fc.double(), fc.integer()), (n) => {
        const bytes = encodeAmf3(n);
        const isInt29 = Number.isInteger(n) && n >= -(2 ** 28) && n <= 2 ** 28 - 1 && !Object.is(n, -0);
        assert.equal(bytes[0], isInt29 ? 0x04 : 0x05);
        assert.ok(Object.is(decodeAmf3(bytes), n));
      }),
      { numRuns: 2000 },
    );
  });

  void it('shared subvalues come back shared, in both formats (AMF0 with references on)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer(), { noNullPrototype: true }), (shared) => {
        const message = { first: shared, second: [shared] };
        const amf0 = decodeAmf0(new AmfWriter(256, { amf0References: true }).writeAmf0(message).toBuffer())[0] as { first: unknown; second: unknown[] };
        assert.strictEqual(amf0.first, amf0.second[0]);
        const amf3 = decodeAmf3(encodeAmf3(message)) as { first: unknown; second: unknown[] };
        assert.strictEqual(amf3.first, amf3.second[0]);
      }),
    );
  });
});
