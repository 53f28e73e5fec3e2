/**
 * RFC 7425 packet options (HMAC-SHA-256 tags, session sequence numbers) in both kernel
 * implementations: the layout against a reference built by hand from the RFC (rtmfp-cpp's
 * FlashCryptoKey writes the same), round trips through every sealing and opening entry point
 * with plain and option keys mixed in batches, native bytes equal to TS bytes, refusals (tag,
 * replay, window), and what an AES failure leaves behind in the native key chain.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DECRYPT_BAD_CHECKSUM, DECRYPT_REPLAYED, RTMFP_CONTENT_OFFSET, TsKernels } from '../../../src/kernels/index.js';
import type { Kernels, PacketKey, PacketKeyOptions } from '../../../src/kernels/index.js';
import type { NativeKernels } from '../../../src/kernels/native/NativeKernels.js';
import { freshEncrypt, implementations, makeBatch, naiveChecksum, nativeSkip } from './kernelsTestKit.js';

const AES = Buffer.alloc(16, 0x2a);
const HMAC_KEY = Buffer.alloc(32, 0x5d);
const profiles: Record<string, PacketKeyOptions> = {
  hmac: { hmacKey: HMAC_KEY, hmacLength: 10 },
  sseq: { sequenceNumbers: true },
  both: { hmacKey: HMAC_KEY, hmacLength: 16, sequenceNumbers: true },
};

const vlu = (n: number): Buffer => {
  const bytes = [n & 0x7f];
  for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) {
    bytes.unshift((v & 0x7f) | 0x80);
  }
  return Buffer.from(bytes);
};

/** The datagram RFC 7425 §4.6 describes, built without the kernels. */
function referenceDatagram(options: PacketKeyOptions, sequence: number, ssid: number, content: Buffer): Buffer {
  const seq = options.sequenceNumbers === true ? vlu(sequence) : Buffer.alloc(0);
  const hasTag = options.hmacKey !== undefined;
  const front = seq.length + (hasTag ? 0 : 2);
  const body = Math.max(16, Math.ceil((front + content.length) / 16) * 16);
  const plain = Buffer.alloc(body, 0xff);
  seq.copy(plain, 0);
  content.copy(plain, front);
  if (!hasTag) {
    plain.writeUInt16BE(naiveChecksum(plain.subarray(front)), seq.length);
  }
  const cipher = freshEncrypt(AES, plain);
  const tag = hasTag ? createHmac('sha256', options.hmacKey!).update(cipher).digest().subarray(0, options.hmacLength) : Buffer.alloc(0);
  const head = Buffer.alloc(4);
  head.writeUInt32BE((ssid ^ cipher.readUInt32BE(0) ^ cipher.readUInt32BE(4)) >>> 0);
  return Buffer.concat([head, cipher, tag]);
}

const packetOf = (content: Uint8Array): { packet: Buffer; end: number } => {
  const packet = Buffer.alloc(RTMFP_CONTENT_OFFSET + content.length + 64, 0x33);
  packet.set(content, RTMFP_CONTENT_OFFSET);
  return { packet, end: RTMFP_CONTENT_OFFSET + content.length };
};

/** Opens `datagram` with `key` (a copy, in place 4 bytes to the left); the content or the result code. */
function open(kernels: Kernels, key: PacketKey, datagram: Buffer): Buffer | number {
  const wire = Buffer.from(datagram);
  const n = kernels.decryptPacket(key, wire, 0, wire.length, wire, 4);
  return n < 0 ? n : wire.subarray(6, 4 + n);
}

for (const impl of implementations) {
  void describe(`RFC 7425 packet options (${impl.name} kernels)`, { skip: impl.skip }, () => {
    for (const [name, options] of Object.entries(profiles)) {
      void it(`${name}: datagrams as the RFC lays them out, sequence numbers from 0, opened by the peer's key`, () => {
        const kernels = impl.kernels();
        const sealer = kernels.createPacketKey(AES, options);
        const opener = kernels.createPacketKey(AES, options);
        for (let sequence = 0; sequence < 300; sequence += 1) {
          const content = randomBytes(sequence % 7 === 0 ? 1182 : sequence % 97);
          const { packet, end } = packetOf(content);
          const out = Buffer.alloc(1300);
          assert.equal(kernels.sealedLength(sealer, end), referenceDatagram(options, sequence, 77, content).length);
          const n = kernels.encryptPacket(sealer, 77, packet, end, out, 0);
          const expected = referenceDatagram(options, sequence, 77, content);
          assert.ok(out.subarray(0, n).equals(expected), `packet ${sequence}`);
          const opened = open(kernels, opener, expected);
          assert.ok(Buffer.isBuffer(opened) && opened.subarray(0, content.length).equals(content), `opened ${sequence}`);
          assert.ok((opened).subarray(content.length).every((b) => b === 0xff), 'then padding only');
        }
      });
    }

    void it('a wrong tag or checksum is refused; a replayed or too old sequence number too; late ones within 32 pass', () => {
      const kernels = impl.kernels();
      for (const options of Object.values(profiles)) {
        const sealer = kernels.createPacketKey(AES, options);
        const opener = kernels.createPacketKey(AES, options);
        const datagrams = Array.from({ length: 80 }, (_, i) => {
          const { packet, end } = packetOf(Buffer.from(`packet ${i}`));
          const out = Buffer.alloc(128);
          return Buffer.from(out.subarray(0, kernels.encryptPacket(sealer, 1, packet, end, out, 0)));
        });
        const tampered = Buffer.from(datagrams[0]);
        tampered[tampered.length - 1] ^= 1;
        assert.equal(open(kernels, opener, tampered), DECRYPT_BAD_CHECKSUM);
        assert.ok(Buffer.isBuffer(open(kernels, opener, datagrams[0])), 'the intact one still opens');
        if (options.sequenceNumbers !== true) {
          assert.ok(Buffer.isBuffer(open(kernels, opener, datagrams[0])), 'no sequence numbers: no replay check');
          continue;
        }
        assert.equal(open(kernels, opener, datagrams[0]), DECRYPT_REPLAYED);
        assert.ok(Buffer.isBuffer(open(kernels, opener, datagrams[40])));
        assert.ok(Buffer.isBuffer(open(kernels, opener, datagrams[20])), '20 below the highest: late, accepted');
        assert.equal(open(kernels, opener, datagrams[20]), DECRYPT_REPLAYED);
        assert.equal(open(kernels, opener, datagrams[8]), DECRYPT_REPLAYED, '32 below the highest: too old');
        assert.ok(Buffer.isBuffer(open(kernels, opener, datagrams[79])));
        assert.equal(open(kernels, opener, datagrams[41]), DECRYPT_REPLAYED, '38 below, never seen: too old all the same');
      }
    });
  });
}

void describe('RFC 7425 packet options: native equals TS through every entry point', { skip: nativeSkip }, () => {
  void it('random batches mixing plain and option keys: same datagrams, offsets and openings', () => {
    const ts = new TsKernels();
    const native = implementations[1].kernels();
    const profileList = [undefined, ...Object.values(profiles)];
    fc.assert(
      fc.property(
        fc.array(fc.record({ profile: fc.nat(3), content: fc.uint8Array({ maxLength: 1182 }), head: fc.uint8Array({ maxLength: 60 }) }), { minLength: 1, maxLength: 20 }),
        fc.uint8Array({ maxLength: 1000 }),
        (entries, payload) => {
          const results = [ts, native].map((kernels) => {
            const keys = entries.map((e) => kernels.createPacketKey(AES, profileList[e.profile]));
            const peers = entries.map((e) => kernels.createPacketKey(AES, profileList[e.profile]));
            // encryptPackets
            const starts = new Uint32Array(entries.length);
            const ends = new Uint32Array(entries.length);
            let at = 0;
            entries.forEach((e, i) => {
              starts[i] = at;
              ends[i] = at + RTMFP_CONTENT_OFFSET + e.content.length;
              at = ends[i] + 64;
            });
            const packets = Buffer.alloc(at, 0x44);
            entries.forEach((e, i) => packets.set(e.content, starts[i] + RTMFP_CONTENT_OFFSET));
            const out = Buffer.alloc(entries.length * 1300, 0x77);
            const offsets = new Uint32Array(entries.length + 1);
            const total = kernels.encryptPackets({ count: entries.length, keys, ssids: new Uint32Array(entries.length).fill(9), packets, starts, ends }, out, offsets);
            // encryptFanOut on the same keys (their sequence numbers continue)
            const batch = makeBatch(kernels, [], entries.map((e) => e.head), entries.map((_, i) => i));
            batch.keys = keys;
            const fanOut = Buffer.alloc(entries.length * 1300, 0x66);
            const fanOffsets = new Uint32Array(entries.length + 1);
            const fanTotal = kernels.encryptFanOut(batch, Buffer.from(payload), 0, payload.length, fanOut, fanOffsets);
            // every datagram opened by the peers, through decryptPackets then decryptPacket
            const datagrams = Buffer.concat([fanOut.subarray(0, fanTotal), out.subarray(0, total)]);
            const dStarts = Uint32Array.from([...fanOffsets.subarray(0, entries.length), ...offsets.subarray(0, entries.length).map((o) => o + fanTotal)]);
            const dEnds = Uint32Array.from([...fanOffsets.subarray(1), ...offsets.subarray(1).map((o) => o + fanTotal)]);
            const opened = new Int32Array(entries.length);
            // the fan-out's datagrams (sequence numbers 1) first: then the packets' (0), late but in the window
            kernels.decryptPackets({ count: entries.length, keys: peers, datagrams, starts: dStarts, ends: dEnds }, opened);
            const singles = entries.map((_, i) => {
              const n = kernels.decryptPacket(peers[i], datagrams, dStarts[entries.length + i], dEnds[entries.length + i], datagrams, dStarts[entries.length + i] + 4);
              return n < 0 ? Buffer.from(String(n)) : Buffer.from(datagrams.subarray(dStarts[entries.length + i] + 6, dStarts[entries.length + i] + 4 + n));
            });
            entries.forEach((e, i) => {
              assert.ok(opened[i] > 0, `fan-out datagram ${i} opened`);
              const content = datagrams.subarray(dStarts[i] + 6, dStarts[i] + 4 + opened[i]);
              assert.ok(content.subarray(0, e.head.length).equals(e.head) && content.subarray(e.head.length, e.head.length + payload.length).equals(payload), `fan-out content ${i}`);
              assert.ok(singles[i].subarray(0, e.content.length).equals(e.content), `packet ${i} opened`);
            });
            return { total, fanTotal, out, fanOut, offsets: Buffer.from(offsets.buffer), fanOffsets: Buffer.from(fanOffsets.buffer), opened: Buffer.from(opened.buffer), packets };
          });
          const [expected, actual] = results;
          for (const field of ['out', 'fanOut', 'offsets', 'fanOffsets', 'opened', 'packets'] as const) {
            assert.ok(actual[field].equals(expected[field]), field);
          }
          assert.equal(actual.total, expected.total);
          assert.equal(actual.fanTotal, expected.fanTotal);
        },
      ),
      { numRuns: 60 },
    );
  });

  void it('both refuse the same option misuse with the same error', () => {
    const ts = new TsKernels();
    const native = implementations[1].kernels();
    for (const options of [{ hmacKey: Buffer.alloc(16), hmacLength: 10 }, { hmacKey: HMAC_KEY, hmacLength: 3 }, { hmacKey: HMAC_KEY, hmacLength: 33 }, { hmacKey: HMAC_KEY }]) {
      const errorOf = (kernels: Kernels): string => {
        try {
          kernels.createPacketKey(AES, options);
          return 'no error';
        } catch (err) {
          return `${(err as Error).name}: ${(err as Error).message}`;
        }
      };
      assert.equal(errorOf(native), errorOf(ts));
      assert.match(errorOf(ts), /^RangeError/);
    }
    // A short output buffer for a key whose datagrams are longer than the Flash profile's.
    for (const kernels of [ts, native]) {
      const key = kernels.createPacketKey(AES, profiles.both);
      const { packet, end } = packetOf(Buffer.alloc(16));
      assert.throws(() => kernels.encryptPacket(key, 1, packet, end, Buffer.alloc(kernels.sealedLength(key, end) - 1), 0), /RangeError|too short/);
    }
  });

  void it('an AES failure throws and leaves the key as if the failed packet never happened (chain, sequence number)', () => {
    const native = implementations[1].kernels() as NativeKernels;
    const ts = new TsKernels();
    for (const options of [undefined, profiles.sseq, profiles.both]) {
      const nativeKey = native.createPacketKey(AES, options);
      const tsKey = ts.createPacketKey(AES, options);
      const seal = (kernels: Kernels, key: PacketKey, text: string): Buffer => {
        const { packet, end } = packetOf(Buffer.from(text));
        const out = Buffer.alloc(200);
        return Buffer.from(out.subarray(0, kernels.encryptPacket(key, 3, packet, end, out, 0)));
      };
      assert.ok(seal(native, nativeKey, 'first').equals(seal(ts, tsKey, 'first')));
      native.injectCryptoFailures(1);
      assert.throws(() => seal(native, nativeKey, 'lost'), /OpenSSL AES-128-CBC failed/);
      // The TS key never saw the failed packet: the next native packet must equal its next one.
      assert.ok(seal(native, nativeKey, 'second').equals(seal(ts, tsKey, 'second')), 'encrypt chain and sequence after a failure');

      const nativeOpener = native.createPacketKey(AES, options);
      const datagrams = ['a', 'b', 'c'].map((t) => seal(ts, tsKey, t));
      assert.ok(Buffer.isBuffer(open(native, nativeOpener, datagrams[0])));
      native.injectCryptoFailures(1);
      assert.throws(() => open(native, nativeOpener, datagrams[1]), /OpenSSL AES-128-CBC failed/);
      const retried = open(native, nativeOpener, datagrams[1]);
      assert.ok(Buffer.isBuffer(retried) && retried.subarray(0, 1).toString() === 'b', 'the failed datagram was not marked as received');
      const next = open(native, nativeOpener, datagrams[2]);
      assert.ok(Buffer.isBuffer(next) && next.subarray(0, 1).toString() === 'c', 'decrypt chain after a failure');
    }
  });
});
