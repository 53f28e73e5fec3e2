/**
 * The TS kernels against independent references: a fresh `createCipheriv` zero-IV AES-128-CBC per
 * packet (the persistent-cipher trick must give identical bytes, whatever came before on the same
 * key), a naive RFC 1071 checksum, and N single encryptions for the fan-out kernel.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DECRYPT_BAD_CHECKSUM, DECRYPT_BAD_LENGTH, RTMFP_CONTENT_OFFSET, TsKernels, loadKernels, rtmfpDatagramLength,
} from '../../../src/kernels/index.js';
import type { FanOutBatch } from '../../../src/kernels/index.js';
import { TsPacketKey } from '../../../src/kernels/ts/TsPacketKey.js';

const ZERO_IV = Buffer.alloc(16);
const freshEncrypt = (key: Buffer, plain: Buffer): Buffer => {
  const c = createCipheriv('aes-128-cbc', key, ZERO_IV).setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]);
};
const freshDecrypt = (key: Buffer, data: Buffer): Buffer => {
  const d = createDecipheriv('aes-128-cbc', key, ZERO_IV).setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
};

/** Straight from RFC 1071 with RTMFP's odd-byte rule, written independently of the kernel. */
const naiveChecksum = (bytes: Uint8Array): number => {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    sum += bytes[i] * 256 + bytes[i + 1];
  }
  if (bytes.length % 2 === 1) {
    sum += bytes[bytes.length - 1];
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + Math.floor(sum / 65536);
  }
  return ~sum & 0xffff;
};

const kernels = new TsKernels();
const blocks = fc.integer({ min: 1, max: 80 }).chain((n) => fc.uint8Array({ minLength: n * 16, maxLength: n * 16 }));

void describe('persistent cipher (rtmfp.md §7.2) equals a fresh zero-IV CBC per packet', () => {
  void it('encrypts a random packet sequence identically, and restores its input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(blocks, { minLength: 1, maxLength: 12 }), (key, packets) => {
        const k = new TsPacketKey(key);
        for (const packet of packets) {
          const src = Buffer.from(packet);
          const out = Buffer.alloc(src.length + 3);
          k.encrypt(src, 0, src.length, out, 3);
          assert.ok(src.equals(packet), 'input restored');
          assert.ok(out.subarray(3).equals(freshEncrypt(Buffer.from(key), src)));
        }
      }),
      { numRuns: 200 },
    );
  });

  void it('decrypts a random packet sequence identically (also in place)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(blocks, { minLength: 1, maxLength: 12 }), (key, packets) => {
        const k = new TsPacketKey(key);
        for (const [i, packet] of packets.entries()) {
          const data = Buffer.from(packet);
          const expected = freshDecrypt(Buffer.from(key), data);
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

  void it('an all-0xFF area folds like any other', () => {
    const ff = Buffer.alloc(1184, 0xff);
    assert.equal(kernels.checksum(ff, 0, ff.length), naiveChecksum(ff));
  });
});

void describe('encryptPacket / decryptPacket', () => {
  const content = fc.uint8Array({ minLength: 1, maxLength: 1182 });

  void it('round-trips any content, in place, with padding and checksum', () => {
    const key = kernels.createPacketKey(randomBytes(16));
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
        const plain = freshDecrypt((key as unknown as TsPacketKey).key, datagram.subarray(4));
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

  void it('the loader returns the TS kernels', () => {
    assert.equal(loadKernels().name, 'ts');
    assert.equal(loadKernels(), loadKernels());
  });
});

void describe('encryptFanOut', () => {
  void it('equals one encryptPacket per session, for any head and payload lengths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ maxLength: 1100 }),
        fc.nat(5),
        (headList, payload, payloadStart) => {
          const count = headList.length;
          const rawKeys = headList.map(() => randomBytes(16));
          const batch: FanOutBatch = {
            count,
            keys: rawKeys.map((k) => kernels.createPacketKey(k)),
            ssids: Uint32Array.from(headList.map((_, i) => 0x1000 + i * 77)),
            heads: Buffer.concat(headList),
            headOffsets: new Uint32Array(count + 1),
          };
          headList.forEach((h, i) => {
            batch.headOffsets[i + 1] = batch.headOffsets[i] + h.length;
          });
          const source = Buffer.concat([Buffer.alloc(payloadStart, 0xaa), payload, Buffer.alloc(3, 0xbb)]);
          const out = Buffer.alloc(count * 1300);
          const offsets = new Uint32Array(count + 1);
          const total = kernels.encryptFanOut(batch, source, payloadStart, payloadStart + payload.length, out, offsets);
          assert.equal(total, offsets[count]);
          const reference = new TsKernels();
          headList.forEach((head, i) => {
            const buf = Buffer.alloc(1300);
            buf.set(head, RTMFP_CONTENT_OFFSET);
            buf.set(payload, RTMFP_CONTENT_OFFSET + head.length);
            const key = reference.createPacketKey(rawKeys[i]);
            const n = reference.encryptPacket(key, batch.ssids[i], buf, RTMFP_CONTENT_OFFSET + head.length + payload.length, buf, 0);
            assert.equal(offsets[i + 1] - offsets[i], n);
            assert.ok(out.subarray(offsets[i], offsets[i + 1]).equals(buf.subarray(0, n)), `session ${i}`);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  void it('keys keep their chain state across fan-out and single calls', () => {
    const raw = randomBytes(16);
    const key = kernels.createPacketKey(raw);
    const batch: FanOutBatch = { count: 1, keys: [key], ssids: Uint32Array.of(9), heads: Buffer.from([0x4a, 1, 2]), headOffsets: Uint32Array.of(0, 3) };
    const out = Buffer.alloc(2048);
    const offsets = new Uint32Array(2);
    for (let i = 0; i < 5; i++) {
      const payload = randomBytes(100 + i * 50);
      const n = kernels.encryptFanOut(batch, payload, 0, payload.length, out, offsets);
      const plain = Buffer.alloc(2048);
      const m = kernels.decryptPacket(kernels.createPacketKey(raw), out, 0, n, plain, 0);
      assert.equal(m, n - 4);
      assert.ok(plain.subarray(5, 5 + payload.length).equals(payload));
    }
  });
});
