/**
 * Every kernel test on both implementations (style rule 14): the TS kernels and, when built, the
 * native addon, each against independent references — a fresh zero-IV AES-128-CBC per packet, a
 * naive RFC 1071 checksum, and N single encryptions for the fan-out kernel.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DECRYPT_BAD_CHECKSUM, DECRYPT_BAD_LENGTH, RTMFP_CONTENT_OFFSET, rtmfpDatagramLength } from '../../../src/kernels/index.js';
import type { Kernels } from '../../../src/kernels/index.js';
import { freshDecrypt, implementations, makeBatch, naiveChecksum } from './kernelsTestKit.js';

for (const impl of implementations) {
  void describe(`${impl.name} kernels`, { skip: impl.skip }, () => {
    let kernels: Kernels;
    before(() => {
      kernels = impl.kernels();
    });

    void it('name the implementation', () => {
      assert.equal(kernels.name, impl.name);
    });

    void describe('checksum', () => {
      void it('matches the RFC 1071 worked example', () => {
        assert.equal(kernels.checksum(Buffer.from('0001f203f4f5f6f7', 'hex'), 0, 8), 0x220d);
      });

      void it('adds an odd trailing byte unshifted', () => {
        // Words 0x0102 + trailing 0x03 (not 0x0300): sum 0x0105.
        assert.equal(kernels.checksum(Buffer.from([1, 2, 3]), 0, 3), ~0x0105 & 0xffff);
      });

      void it('equals a naive implementation on random data and offsets', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(7), (bytes, skip) => {
            const start = Math.min(skip, bytes.length);
            assert.equal(kernels.checksum(bytes, start, bytes.length), naiveChecksum(bytes.subarray(start)));
          }),
          { numRuns: 500 },
        );
      });

      void it('folds all-0xFF and all-zero areas like any other', () => {
        for (const fill of [0xff, 0]) {
          for (const length of [0, 1, 2, 7, 8, 9, 1184]) {
            const area = Buffer.alloc(length, fill);
            assert.equal(kernels.checksum(area, 0, length), naiveChecksum(area), `${length} x ${fill}`);
          }
        }
      });
    });

    void describe('encryptPacket / decryptPacket', () => {
      const content = fc.uint8Array({ minLength: 1, maxLength: 1182 });

      void it('round-trips any content, in place, with padding and checksum', () => {
        const raw = randomBytes(16);
        const key = kernels.createPacketKey(raw);
        fc.assert(
          fc.property(content, fc.integer({ min: 0, max: 0xffffffff }), (bytes, ssid) => {
            const buf = Buffer.alloc(1200);
            buf.set(bytes, RTMFP_CONTENT_OFFSET);
            const end = RTMFP_CONTENT_OFFSET + bytes.length;
            const n = kernels.encryptPacket(key, ssid, buf, end, buf, 0);
            assert.equal(n, rtmfpDatagramLength(end));
            assert.equal((n - 4) % 16, 0);
            const datagram = Buffer.from(buf.subarray(0, n));
            assert.equal((datagram.readUInt32BE(0) ^ datagram.readUInt32BE(4) ^ datagram.readUInt32BE(8)) >>> 0, ssid);
            const plain = freshDecrypt(raw, datagram.subarray(4));
            assert.equal(plain.readUInt16BE(0), naiveChecksum(plain.subarray(2)));
            assert.ok(plain.subarray(2, 2 + bytes.length).equals(bytes));
            assert.ok(plain.subarray(2 + bytes.length).every((b) => b === 0xff));
            const m = kernels.decryptPacket(key, datagram, 0, n, datagram, 0);
            assert.equal(m, n - 4);
            assert.ok(datagram.subarray(2, 2 + bytes.length).equals(bytes));
          }),
          { numRuns: 300 },
        );
      });

      void it('decrypts in place over its own SSID (out = datagram, outOffset = start) and to another buffer', () => {
        const key = kernels.createPacketKey(randomBytes(16));
        const buf = Buffer.alloc(1300);
        for (let i = 0; i < 50; i++) {
          const payload = randomBytes(1 + ((i * 37) % 1100));
          payload.copy(buf, RTMFP_CONTENT_OFFSET);
          const n = kernels.encryptPacket(key, i, buf, RTMFP_CONTENT_OFFSET + payload.length, buf, 0);
          const wire = Buffer.concat([randomBytes(3), buf.subarray(0, n)]);
          const copy = Buffer.from(wire);
          const out = Buffer.alloc(n + 7);
          assert.equal(kernels.decryptPacket(key, copy, 3, 3 + n, out, 7), n - 4);
          assert.ok(copy.equals(wire), 'the datagram is left alone when out is another buffer');
          assert.equal(kernels.decryptPacket(key, wire, 3, 3 + n, wire, 3), n - 4);
          assert.ok(wire.subarray(3, 3 + n - 4).equals(out.subarray(7, 7 + n - 4)));
          assert.ok(out.subarray(9, 9 + payload.length).equals(payload));
        }
      });

      void it('reports bad lengths and bad checksums, and keeps working after them', () => {
        const key = kernels.createPacketKey(randomBytes(16));
        const out = Buffer.alloc(2048);
        for (const length of [0, 3, 4, 5, 19, 21, 35]) {
          assert.equal(kernels.decryptPacket(key, randomBytes(length), 0, length, out, 0), DECRYPT_BAD_LENGTH, `length ${length}`);
        }
        let bad = 0;
        for (let i = 0; i < 200; i++) {
          bad += kernels.decryptPacket(key, randomBytes(36), 0, 36, out, 0) === DECRYPT_BAD_CHECKSUM ? 1 : 0;
        }
        assert.ok(bad > 190, 'random datagrams fail the checksum');
        const buf = Buffer.alloc(64);
        buf.write('hello', RTMFP_CONTENT_OFFSET);
        const n = kernels.encryptPacket(key, 7, buf, RTMFP_CONTENT_OFFSET + 5, buf, 0);
        assert.equal(kernels.decryptPacket(key, buf, 0, n, out, 10), n - 4);
        assert.equal(out.toString('latin1', 12, 17), 'hello');
      });

      void it('seals an empty content into one block', () => {
        const raw = randomBytes(16);
        const buf = Buffer.alloc(32);
        const n = kernels.encryptPacket(kernels.createPacketKey(raw), 1, buf, RTMFP_CONTENT_OFFSET, buf, 0);
        assert.equal(n, 20);
        const plain = freshDecrypt(raw, buf.subarray(4, 20));
        assert.ok(plain.subarray(2).every((b) => b === 0xff));
      });
    });

    void describe('encryptPackets', () => {
      void it('seals each packet as encryptPacket would, with its own key and SSID; the datagrams open with freshly made keys', () => {
        fc.assert(
          fc.property(fc.array(fc.record({ content: fc.uint8Array({ maxLength: 1182 }), key: fc.nat(3), gap: fc.nat(9) }), { maxLength: 12 }), (list) => {
            const rawKeys = Array.from({ length: 4 }, () => randomBytes(16));
            const keys = rawKeys.map((r) => kernels.createPacketKey(r));
            const starts = new Uint32Array(list.length);
            const ends = new Uint32Array(list.length);
            let at = 0;
            list.forEach((p, i) => {
              starts[i] = at + p.gap;
              ends[i] = starts[i] + RTMFP_CONTENT_OFFSET + p.content.length;
              at = ends[i] + 16;
            });
            const packets = Buffer.alloc(at);
            list.forEach((p, i) => packets.set(p.content, starts[i] + RTMFP_CONTENT_OFFSET));
            const ssids = Uint32Array.from(list.map((_, i) => 0x2000 + i));
            const out = Buffer.alloc(list.length * 1200);
            const offsets = new Uint32Array(list.length + 1);
            const total = kernels.encryptPackets({ count: list.length, keys: list.map((p) => keys[p.key]), ssids, packets, starts, ends }, out, offsets);
            assert.equal(total, offsets[list.length]);
            list.forEach((p, i) => {
              const datagram = out.subarray(offsets[i], offsets[i + 1]);
              const plain = Buffer.alloc(datagram.length);
              const n = kernels.decryptPacket(kernels.createPacketKey(rawKeys[p.key]), datagram, 0, datagram.length, plain, 0);
              assert.equal(n, datagram.length - 4, `packet ${i} opens`);
              assert.ok(plain.subarray(2, 2 + p.content.length).equals(Buffer.from(p.content)), `packet ${i} content`);
              const word = (datagram.readUInt32BE(0) ^ datagram.readUInt32BE(4) ^ datagram.readUInt32BE(8)) >>> 0;
              assert.equal(word, ssids[i], `packet ${i} SSID`);
            });
          }),
          { numRuns: 60 },
        );
      });
    });

    void describe('decryptPackets', () => {
      void it('opens each datagram in place as decryptPacket would, bad ones reported per datagram', () => {
        fc.assert(
          fc.property(
            fc.array(fc.record({ content: fc.uint8Array({ maxLength: 1182 }), key: fc.nat(3), gap: fc.nat(9), damage: fc.nat(3) }), { maxLength: 12 }),
            (list) => {
              const rawKeys = Array.from({ length: 4 }, () => randomBytes(16));
              const keys = rawKeys.map((r) => kernels.createPacketKey(r));
              const sealed = list.map((p, i) => {
                const buf = Buffer.alloc(1300);
                buf.set(p.content, RTMFP_CONTENT_OFFSET);
                const n = kernels.encryptPacket(keys[p.key], 0x3000 + i, buf, RTMFP_CONTENT_OFFSET + p.content.length, buf, 0);
                const datagram = Buffer.from(buf.subarray(0, n));
                // damage 0: a flipped byte (bad checksum); 1: a cut datagram (bad length); else intact.
                if (p.damage === 0) {
                  datagram[datagram.length - 1] ^= 0x40;
                }
                return p.damage === 1 ? datagram.subarray(0, datagram.length - 3) : datagram;
              });
              const starts = new Uint32Array(list.length);
              const ends = new Uint32Array(list.length);
              let at = 0;
              sealed.forEach((d, i) => {
                starts[i] = at + list[i].gap;
                ends[i] = starts[i] + d.length;
                at = ends[i];
              });
              const datagrams = Buffer.alloc(at);
              sealed.forEach((d, i) => datagrams.set(d, starts[i]));
              const expected = Buffer.from(datagrams);
              const expectedResults = sealed.map((_, i) =>
                kernels.decryptPacket(kernels.createPacketKey(rawKeys[list[i].key]), expected, starts[i], ends[i], expected, starts[i] + 4),
              );
              const results = new Int32Array(list.length);
              kernels.decryptPackets({ count: list.length, keys: list.map((p) => keys[p.key]), datagrams, starts, ends }, results);
              assert.deepEqual([...results], expectedResults);
              list.forEach((p, i) => {
                if (p.damage > 1) {
                  assert.equal(results[i], sealed[i].length - 4);
                  assert.ok(datagrams.subarray(starts[i] + 6, starts[i] + 6 + p.content.length).equals(Buffer.from(p.content)), `datagram ${i}`);
                } else {
                  assert.ok(results[i] < 0, `damaged datagram ${i} refused`);
                }
              });
              // Intact datagrams leave the same bytes as decryptPacket; damaged ones are scratch.
              list.forEach((p, i) => {
                if (p.damage > 1) {
                  assert.ok(datagrams.subarray(starts[i], ends[i]).equals(expected.subarray(starts[i], ends[i])));
                }
              });
            },
          ),
          { numRuns: 60 },
        );
      });
    });

    void describe('encryptFanOut', () => {
      void it('equals one encryptPacket per session, for any head and payload lengths', () => {
        fc.assert(
          fc.property(
            fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
            fc.uint8Array({ maxLength: 1100 }),
            fc.nat(5),
            (headList, payload, payloadStart) => {
              const rawKeys = headList.map(() => randomBytes(16));
              const batch = makeBatch(kernels, rawKeys, headList, headList.map((_, i) => 0x1000 + i * 77));
              const source = Buffer.concat([Buffer.alloc(payloadStart, 0xaa), payload, Buffer.alloc(3, 0xbb)]);
              const out = Buffer.alloc(headList.length * 1300);
              const offsets = new Uint32Array(headList.length + 1);
              const total = kernels.encryptFanOut(batch, source, payloadStart, payloadStart + payload.length, out, offsets);
              assert.equal(total, offsets[headList.length]);
              headList.forEach((head, i) => {
                const buf = Buffer.alloc(1300);
                buf.set(head, RTMFP_CONTENT_OFFSET);
                buf.set(payload, RTMFP_CONTENT_OFFSET + head.length);
                const key = kernels.createPacketKey(rawKeys[i]);
                const end = RTMFP_CONTENT_OFFSET + head.length + payload.length;
                const n = kernels.encryptPacket(key, batch.ssids[i], buf, end, buf, 0);
                assert.equal(offsets[i + 1] - offsets[i], n);
                assert.ok(out.subarray(offsets[i], offsets[i + 1]).equals(buf.subarray(0, n)), `session ${i}`);
              });
            },
          ),
          { numRuns: 150 },
        );
      });

      void it('keys keep working across fan-out and single calls', () => {
        const raw = randomBytes(16);
        const key = kernels.createPacketKey(raw);
        const batch = makeBatch(kernels, [raw], [Buffer.from([0x4a, 1, 2])], [9]);
        batch.keys = [key];
        const out = Buffer.alloc(2048);
        const offsets = new Uint32Array(2);
        for (let i = 0; i < 5; i++) {
          const payload = randomBytes(100 + i * 50);
          const n = kernels.encryptFanOut(batch, payload, 0, payload.length, out, offsets);
          const plain = Buffer.alloc(2048);
          assert.equal(kernels.decryptPacket(kernels.createPacketKey(raw), out, 0, n, plain, 0), n - 4);
          assert.ok(plain.subarray(5, 5 + payload.length).equals(payload));
          const single = Buffer.alloc(64);
          single.write('x', RTMFP_CONTENT_OFFSET);
          const m = kernels.encryptPacket(key, 9, single, RTMFP_CONTENT_OFFSET + 1, single, 0);
          assert.ok(freshDecrypt(raw, single.subarray(4, m)).subarray(2, 3).equals(Buffer.from('x')));
        }
      });

      void it('an empty batch writes nothing', () => {
        const batch = makeBatch(kernels, [], [], []);
        const offsets = Uint32Array.of(99);
        assert.equal(kernels.encryptFanOut(batch, Buffer.alloc(10), 0, 10, Buffer.alloc(0), offsets), 0);
        assert.equal(offsets[0], 0);
      });
    });
  });
}
