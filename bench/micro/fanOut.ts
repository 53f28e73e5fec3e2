/**
 * encryptFanOut: one media fragment to N sessions (N keys, N heads) → N datagrams in one call,
 * the per-subscriber cost of RTMFP fan-out (rtmfp.md §7.1). Heads are 14 bytes (flags,
 * timestamps and a user-data chunk header, varying per session). The native kernel runs on
 * multi-buffer AES-NI where the CPU has it; the last row times its OpenSSL path instead.
 */
import { randomBytes } from 'node:crypto';
import { RTMFP_MAX_CONTENT, rtmfpDatagramLength } from '../../src/kernels/index.js';
import { loadNativeAddon } from '../../src/kernels/native/nativeAddon.js';
import type { FanOutBatch, Kernels } from '../../src/kernels/index.js';
import type { MicroCase } from './microBench.js';
import { assertSame, bothKernels, isMain, parseOptions, runMicro } from './microBench.js';

const HEAD = 14;

function fanOut(kernels: Kernels, rawKeys: Buffer[], heads: Buffer, payload: Buffer): () => Buffer {
  const count = rawKeys.length;
  const batch: FanOutBatch = {
    count,
    keys: rawKeys.map((k) => kernels.createPacketKey(k)),
    ssids: Uint32Array.from(rawKeys, (_, i) => 0x1000 + i),
    heads,
    headOffsets: Uint32Array.from({ length: count + 1 }, (_, i) => i * HEAD),
  };
  const out = Buffer.alloc(count * rtmfpDatagramLength(6 + HEAD + payload.length));
  const offsets = new Uint32Array(count + 1);
  return () => out.subarray(0, kernels.encryptFanOut(batch, payload, 0, payload.length, out, offsets));
}

export function main(argv: string[]): void {
  const { ts, native } = bothKernels();
  const payload = randomBytes(RTMFP_MAX_CONTENT - HEAD);
  const cases: MicroCase[] = [1, 10, 100].map((count) => {
    const rawKeys = Array.from({ length: count }, () => randomBytes(16));
    const heads = randomBytes(count * HEAD);
    const tsRun = fanOut(ts, rawKeys, heads, payload);
    const nativeRun = native === null ? null : fanOut(native, rawKeys, heads, payload);
    if (nativeRun !== null) {
      assertSame(`fan-out ${count}`, Buffer.from(tsRun()), nativeRun());
    }
    return { name: `fan-out ${payload.length} B x ${count}`, units: count, unitName: 'datagram', ts: tsRun, native: nativeRun };
  });
  const { addon } = loadNativeAddon();
  if (addon !== null && native !== null) {
    const last = cases[cases.length - 1];
    const multiBufferRun = last.native!;
    const openSslRun = (): void => {
      addon.setMultiBufferAes(false);
      multiBufferRun();
      addon.setMultiBufferAes(true);
    };
    cases.push({ ...last, name: `${last.name} OpenSSL`, native: openSslRun });
  }
  runMicro('fanOut', cases, parseOptions(argv));
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
