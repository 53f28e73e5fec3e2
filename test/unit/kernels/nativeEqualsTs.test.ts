/**
 * Randomized "native equals fallback" (style rule 14, bufferutil's "bindings match fallback"):
 * the same random keys, packets, offsets, aliasings and fan-out batches through both
 * implementations must leave every output buffer, and every input buffer they may scribble on,
 * byte for byte the same, with the same return values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RTMFP_CONTENT_OFFSET, TsKernels } from '../../../src/kernels/index.js';
import type { Kernels, PacketKey } from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import type { NativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { checksum as tsChecksum } from '../../../src/kernels/ts/checksum.js';
import { implementations, makeBatch, nativeSkip } from './kernelsTestKit.js';

const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const ssid = fc.integer({ min: 0, max: 0xffffffff });
const native = (): Kernels => implementations[1].kernels();
const addon = (): NativeAddon => {
  const loaded = loadNativeAddon();
  assert.ok(loaded.addon !== null, loaded.addon === null ? loaded.reason : '');
  return loaded.addon;
};

/** One operation on a key pair, applied to both implementations in the same order. */
type Op =
  | { kind: 'encrypt'; content: Uint8Array; ssid: number; outOffset: number; inPlace: boolean }
  | {
      kind: 'decrypt';
      content: Uint8Array;
      /** Sealed with the other key (the checksum then fails). */
      foreign: boolean;
      /** -1: intact; below the length: that byte flipped; else a cut length. */
      corrupt: number;
      start: number;
      outOffset: number;
      mode: 'same' | 'other';
    };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('encrypt' as const),
    content: fc.uint8Array({ maxLength: 1182 }),
    ssid,
    outOffset: fc.nat(9),
    inPlace: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('decrypt' as const),
    content: fc.uint8Array({ maxLength: 1182 }),
    foreign: fc.boolean(),
    corrupt: fc.oneof({ arbitrary: fc.constant(-1), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 1300 }), weight: 1 }),
    start: fc.nat(5),
    outOffset: fc.nat(9),
    mode: fc.constantFrom('same' as const, 'other' as const),
  }),
);

/** Runs `o` on one implementation; returns every buffer it touched, plus the result. */
function run(kernels: Kernels, key: PacketKey, sealer: PacketKey, o: Op): Buffer[] {
  const packet = Buffer.alloc(1220, 0x5c);
  packet.set(o.content, RTMFP_CONTENT_OFFSET);
  const end = RTMFP_CONTENT_OFFSET + o.content.length;
  if (o.kind === 'encrypt') {
    // Same buffer: at offset 0 that is true in-place; elsewhere a partial overlap.
    const out = o.inPlace ? packet : Buffer.alloc(1240, 0x3a);
    const n = kernels.encryptPacket(key, o.ssid, packet, end, out, o.outOffset);
    return [packet, out, Buffer.from(String(n))];
  }
  // A valid datagram sealed by `sealer`, optionally with one byte flipped (or a cut length).
  const n = kernels.encryptPacket(sealer, 1, packet, end, packet, 0);
  const wire = Buffer.concat([Buffer.alloc(o.start, 0xee), packet.subarray(0, n)]);
  let length = n;
  if (o.corrupt >= 0 && o.corrupt < n) {
    wire[o.start + o.corrupt] ^= 0x40;
  } else if (o.corrupt >= n) {
    length = o.corrupt % (n + 1);
  }
  const out = o.mode === 'same' ? wire : Buffer.alloc(1300, 0x11);
  const outOffset = o.mode === 'same' ? o.start : o.outOffset;
  const m = kernels.decryptPacket(key, wire, o.start, o.start + length, out, outOffset);
  return [wire, out, Buffer.from(String(m))];
}

void describe('native kernels equal the TS kernels', { skip: nativeSkip }, () => {
  void it('raw native checksum (no size threshold) on random data, offsets and lengths', () => {
    const raw = addon();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(9), fc.nat(9), (bytes, a, b) => {
        const start = Math.min(a, bytes.length);
        const end = Math.max(start, bytes.length - b);
        assert.equal(raw.checksum(bytes, start, end), tsChecksum(bytes, start, end));
        assert.equal(native().checksum(bytes, start, end), tsChecksum(bytes, start, end));
      }),
      { numRuns: 1000 },
    );
  });

  void it('random encrypt/decrypt sequences on the same keys give the same bytes and results', () => {
    const ts = new TsKernels();
    fc.assert(
      fc.property(key16, key16, fc.array(op, { minLength: 1, maxLength: 20 }), (rawKey, rawSealer, ops) => {
        const tsKeys = [ts.createPacketKey(rawKey), ts.createPacketKey(rawSealer)] as const;
        const nativeKeys = [native().createPacketKey(rawKey), native().createPacketKey(rawSealer)] as const;
        for (const [i, o] of ops.entries()) {
          const foreign = o.kind === 'decrypt' && o.foreign ? 1 : 0;
          const expected = run(ts, tsKeys[0], tsKeys[foreign], o);
          const actual = run(native(), nativeKeys[0], nativeKeys[foreign], o);
          expected.forEach((buf, j) => {
            assert.ok(actual[j].equals(buf), `op ${i} (${o.kind}) buffer ${j}`);
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  // Fan-out runs on multi-buffer AES-NI where the CPU has it, else on OpenSSL: both paths are compared.
  for (const multiBuffer of [true, false]) {
    const path = multiBuffer ? 'multi-buffer AES-NI' : 'OpenSSL';
    void it(`random fan-out batches give the same datagrams and offsets, interleaved with single packets (${path})`, () => {
      addon().setMultiBufferAes(multiBuffer);
      const ts = new TsKernels();
      const batchArb = fc.record({
        heads: fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 40 }),
        payload: fc.uint8Array({ maxLength: 1182 - 60 }),
        payloadStart: fc.nat(7),
        seed: fc.integer(),
      });
      fc.assert(
        fc.property(fc.array(batchArb, { minLength: 1, maxLength: 4 }), (batches) => {
          const rawKeys = Array.from({ length: 40 }, (_, i) => Buffer.alloc(16, i * 7 + batches.length));
          const tsBatchKeys = rawKeys.map((k) => ts.createPacketKey(k));
          const nativeBatchKeys = rawKeys.map((k) => native().createPacketKey(k));
          for (const b of batches) {
            const ssids = b.heads.map((_, i) => (b.seed * 31 + i * 0x01000193) >>> 0);
            const source = Buffer.concat([Buffer.alloc(b.payloadStart, 0xab), b.payload]);
            const results = [ts, native()].map((kernels) => {
              const batch = makeBatch(kernels, [], b.heads, ssids);
              batch.keys = (kernels === ts ? tsBatchKeys : nativeBatchKeys).slice(0, b.heads.length);
              const out = Buffer.alloc(b.heads.length * 1200 + 5, 0x77);
              const offsets = new Uint32Array(b.heads.length + 1);
              const total = kernels.encryptFanOut(batch, source, b.payloadStart, source.length, out, offsets);
              // A single packet on session 0's key between batches: both keys must stay in step.
              const single = Buffer.alloc(64);
              single.write('between', RTMFP_CONTENT_OFFSET);
              const n = b.heads.length > 0 ? kernels.encryptPacket(batch.keys[0], 5, single, RTMFP_CONTENT_OFFSET + 7, single, 0) : 0;
              return { total, out, offsets: Buffer.from(offsets.buffer), single: single.subarray(0, n) };
            });
            const [expected, actual] = results;
            assert.equal(actual.total, expected.total);
            assert.ok(actual.offsets.equals(expected.offsets), 'offsets');
            assert.ok(actual.out.equals(expected.out), 'datagrams');
            assert.ok(actual.single.equals(expected.single), 'single packet after the batch');
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  for (const multiBuffer of [true, false]) {
    const path = multiBuffer ? 'multi-buffer AES-NI' : 'OpenSSL';
    void it(`random packet batches (encryptPackets) give the same datagrams, offsets and scratch as TS (${path})`, () => {
      addon().setMultiBufferAes(multiBuffer);
      const ts = new TsKernels();
      const rawKeys = Array.from({ length: 12 }, (_, i) => Buffer.alloc(16, i * 13 + 1));
      const keysOf = new Map<Kernels, PacketKey[]>([ts, native()].map((k) => [k, rawKeys.map((r) => k.createPacketKey(r))]));
      const packetArb = fc.record({ content: fc.uint8Array({ maxLength: 1182 }), key: fc.nat(11), ssid, gap: fc.nat(40) });
      fc.assert(
        fc.property(fc.array(packetArb, { maxLength: 30 }), (packets) => {
          const starts = new Uint32Array(packets.length);
          const ends = new Uint32Array(packets.length);
          let at = 0;
          packets.forEach((p, i) => {
            at += p.gap;
            starts[i] = at;
            ends[i] = at + RTMFP_CONTENT_OFFSET + p.content.length;
            at = ends[i] + 16;
          });
          const source = Buffer.alloc(at + 16, 0x5a);
          packets.forEach((p, i) => source.set(p.content, starts[i] + RTMFP_CONTENT_OFFSET));
          const results = [ts, native()].map((kernels) => {
            const scratch = Buffer.from(source);
            const keys = keysOf.get(kernels)!;
            const out = Buffer.alloc(packets.length * 1200 + 3, 0x77);
            const offsets = new Uint32Array(packets.length + 1);
            const total = kernels.encryptPackets(
              { count: packets.length, keys: packets.map((p) => keys[p.key]), ssids: Uint32Array.from(packets.map((p) => p.ssid)), packets: scratch, starts, ends },
              out,
              offsets,
            );
            return { total, out, offsets: Buffer.from(offsets.buffer), scratch };
          });
          const [expected, actual] = results;
          assert.equal(actual.total, expected.total);
          assert.ok(actual.offsets.equals(expected.offsets), 'offsets');
          assert.ok(actual.out.equals(expected.out), 'datagrams');
          assert.ok(actual.scratch.equals(expected.scratch), 'packets scratch (padding and checksums)');
        }),
        { numRuns: 100 },
      );
    });
  }

  void it('fan-out of equal heads to 1..20 sessions (full 8-lane groups, 4-lane and single tails) equals TS', (t) => {
    const ts = new TsKernels();
    t.diagnostic(`multi-buffer AES-NI ${addon().setMultiBufferAes(true) ? 'in use' : 'not available here: OpenSSL path'}`);
    const payload = Buffer.alloc(1168, 0x42);
    for (let count = 1; count <= 20; count++) {
      const rawKeys = Array.from({ length: count }, (_, i) => Buffer.alloc(16, count * 31 + i));
      const heads = Array.from({ length: count }, (_, i) => Buffer.alloc(14, i));
      const ssids = heads.map((_, i) => i);
      const outs = [ts, native()].map((kernels) => {
        const batch = makeBatch(kernels, rawKeys, heads, ssids);
        const out = Buffer.alloc(count * 1200);
        const offsets = new Uint32Array(count + 1);
        return out.subarray(0, kernels.encryptFanOut(batch, payload, 0, payload.length, out, offsets));
      });
      assert.ok(outs[1].equals(outs[0]), `${count} sessions`);
    }
  });

  void it('bounds are checked: a short output throws instead of writing past it', () => {
    const key = native().createPacketKey(Buffer.alloc(16));
    const packet = Buffer.alloc(40);
    assert.throws(() => native().encryptPacket(key, 1, packet, 30, Buffer.alloc(20), 0), RangeError);
    assert.throws(() => native().decryptPacket(key, Buffer.alloc(36), 0, 36, Buffer.alloc(20), 0), RangeError);
    const batch = makeBatch(native(), [Buffer.alloc(16)], [Buffer.from([1])], [1]);
    assert.throws(() => native().encryptFanOut(batch, Buffer.alloc(100), 0, 100, Buffer.alloc(50), new Uint32Array(2)), RangeError);
    const one = { count: 1, keys: [key], ssids: new Uint32Array(1), packets: Buffer.alloc(40), starts: new Uint32Array([0]), ends: new Uint32Array([30]) };
    assert.throws(() => native().encryptPackets(one, Buffer.alloc(20), new Uint32Array(2)), RangeError);
    assert.throws(() => native().encryptPackets({ ...one, ends: new Uint32Array([39]) }, Buffer.alloc(100), new Uint32Array(2)), RangeError);
    assert.throws(() => native().encryptPackets(one, one.packets, new Uint32Array(2)), RangeError);
    assert.throws(() => native().encryptPacket(new TsKernels().createPacketKey(Buffer.alloc(16)), 1, packet, 10, packet, 0), TypeError);
  });

  void it('agree on misuse too: short outputs, overlaps and ranges past a buffer throw the same RangeError in both', () => {
    const ts = new TsKernels();
    /** What a call does on one implementation: its result, or the class and message it threw. */
    const outcome = (f: () => unknown): string => {
      try {
        return `ok ${String(f())}`;
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    };
    const misuse = fc.record({
      which: fc.constantFrom('checksum', 'encrypt', 'decrypt', 'fanout', 'packets', 'decrypts', 'key'),
      size: fc.nat(80),
      a: fc.integer({ min: -4, max: 90 }),
      b: fc.integer({ min: -4, max: 90 }),
      overlap: fc.boolean(),
    });
    fc.assert(
      fc.property(misuse, ({ which, size, a, b, overlap }) => {
        const results = [ts, native()].map((k) => {
          const key = k.createPacketKey(Buffer.alloc(16, 7));
          const buf = Buffer.alloc(size, 3);
          switch (which) {
            case 'checksum':
              return outcome(() => k.checksum(buf, a, b));
            case 'key':
              return outcome(() => (k.createPacketKey(Buffer.alloc(size % 20)), 'a key'));
            case 'encrypt':
              return outcome(() => k.encryptPacket(key, 9, Buffer.alloc(Math.max(size, 8), 1), Math.max(0, a), overlap ? buf : Buffer.alloc(b < 0 ? 0 : b), 0));
            case 'decrypt':
              return outcome(() => k.decryptPacket(key, buf, Math.max(0, a), Math.max(0, b), Buffer.alloc(size), 0));
            case 'fanout': {
              const batch = makeBatch(k, [Buffer.alloc(16, 1), Buffer.alloc(16, 2)], [Buffer.alloc(Math.abs(a) % 12, 5), Buffer.alloc(3, 6)], [1, 2]);
              return outcome(() => k.encryptFanOut(batch, Buffer.alloc(40, 8), 0, Math.max(0, Math.min(40, b)), Buffer.alloc(size * 2), new Uint32Array(3)));
            }
            case 'packets': {
              const packets = Buffer.alloc(64, 4);
              const one = { count: 1, keys: [key], ssids: new Uint32Array(1), packets, starts: new Uint32Array([Math.max(0, a % 40)]), ends: new Uint32Array([Math.max(0, b)]) };
              return outcome(() => k.encryptPackets(one, overlap ? packets.subarray(8) : Buffer.alloc(size), new Uint32Array(2)));
            }
            default: {
              const datagrams = Buffer.alloc(size);
              return outcome(() =>
                k.decryptPackets({ count: 1, keys: [key], datagrams, starts: new Uint32Array([Math.max(0, a)]), ends: new Uint32Array([Math.max(0, b)]) }, new Int32Array(1)),
              );
            }
          }
        });
        assert.equal(results[1], results[0], `native vs TS on ${which}`);
      }),
      { numRuns: 400 },
    );
  });

  void it('checks every array argument by its exact type (no reinterpreting another typed array)', () => {
    const a = addon();
    const k = native().createPacketKey(Buffer.alloc(16));
    assert.throws(() => a.decryptPackets(1, [k], Buffer.alloc(40), new Uint16Array(2) as unknown as Uint32Array, new Uint32Array([36]), new Int32Array(1)), /starts must be a Uint32Array/);
    assert.throws(() => a.decryptPackets(1, [k], Buffer.alloc(40), new Uint32Array([0]), new Uint32Array([36]), new Uint32Array(1) as unknown as Int32Array), /results must be an Int32Array/);
    assert.throws(() => a.checksum(new Float64Array(4) as unknown as Uint8Array, 0, 4), TypeError);
    assert.throws(() => a.checksum(Buffer.alloc(4), '0' as unknown as number, 4), TypeError);
    // Bounds that would overflow an int64 sum are refused, not wrapped around.
    assert.throws(() => a.checksum(Buffer.alloc(4), 2 ** 62, 2 ** 63 + 2 ** 62), RangeError);
    assert.throws(() => a.checksum(Buffer.alloc(4), 2 ** 63, 2 ** 63 + 8), RangeError);
    assert.throws(() => a.encryptFanOut(1, 'keys' as unknown as object[], new Uint32Array(1), Buffer.alloc(4), new Uint32Array(2), Buffer.alloc(4), 0, 4, Buffer.alloc(64), new Uint32Array(2)), /keys must be an array/);
  });
});
