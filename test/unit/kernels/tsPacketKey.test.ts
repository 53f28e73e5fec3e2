/**
 * The TS kernels' persistent cipher (rtmfp.md §7.2): one Cipher/Decipher per key whose chain state
 * is cancelled per packet must give the bytes of a fresh zero-IV CBC, whatever came before on the
 * same key. (The native kernels reset the IV instead; kernels.test.ts checks both the same way.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TsPacketKey } from '../../../src/kernels/ts/TsPacketKey.js';
import { freshDecrypt, freshEncrypt } from './kernelsTestKit.js';

const blocks = fc.integer({ min: 1, max: 80 }).chain((n) => fc.uint8Array({ minLength: n * 16, maxLength: n * 16 }));
const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

void describe('persistent cipher (rtmfp.md §7.2) equals a fresh zero-IV CBC per packet', () => {
  void it('encrypts a random packet sequence identically, and restores its input', () => {
    fc.assert(
      fc.property(key16, fc.array(blocks, { minLength: 1, maxLength: 12 }), (key, packets) => {
        const k = new TsPacketKey(key);
        for (const packet of packets) {
          const src = Buffer.from(packet);
          const out = Buffer.alloc(src.length + 3);
          k.encrypt(src, 0, src.length, out, 3);
          assert.ok(src.equals(packet), 'input restored');
          assert.ok(out.subarray(3).equals(freshEncrypt(key, src)));
        }
      }),
      { numRuns: 200 },
    );
  });

  void it('decrypts a random packet sequence identically (also in place)', () => {
    fc.assert(
      fc.property(key16, fc.array(blocks, { minLength: 1, maxLength: 12 }), (key, packets) => {
        const k = new TsPacketKey(key);
        for (const [i, packet] of packets.entries()) {
          const data = Buffer.from(packet);
          const expected = freshDecrypt(key, data);
          if (i % 2 === 0) {
            k.decrypt(data, 0, data.length, data, 0);
            assert.ok(data.equals(expected));
          } else {
            const out = Buffer.alloc(data.length);
            k.decrypt(data, 0, data.length, out, 0);
            assert.ok(out.equals(expected));
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
