/**
 * decryptPacket: AES-128-CBC decryption and checksum verification of one datagram, decrypted over
 * its own SSID (out = datagram, outOffset = 4 as RtmfpSessionInput does, which the native side
 * routes through scratch) on one persistent key. Each call decrypts a fresh copy of the wire
 * bytes, which both sides pay alike.
 */
import { randomBytes } from 'node:crypto';
import { RTMFP_CONTENT_OFFSET, RTMFP_MAX_CONTENT } from '../../src/kernels/index.js';
import type { Kernels } from '../../src/kernels/index.js';
import type { MicroCase } from './microBench.js';
import { assertSame, bothKernels, isMain, parseOptions, runMicro } from './microBench.js';

function opener(kernels: Kernels, rawKey: Buffer, wire: Buffer): () => Buffer {
  const key = kernels.createPacketKey(rawKey);
  const buf = Buffer.alloc(wire.length);
  return () => {
    wire.copy(buf);
    const n = kernels.decryptPacket(key, buf, 0, buf.length, buf, 4);
    if (n < 0) {
      throw new Error(`decrypt failed: ${n}`);
    }
    return buf.subarray(4, 4 + n);
  };
}

export function main(argv: string[]): void {
  const { ts, native } = bothKernels();
  const rawKey = randomBytes(16);
  const sealKey = ts.createPacketKey(rawKey);
  const cases: MicroCase[] = [32, 400, RTMFP_MAX_CONTENT].map((size) => {
    const buf = Buffer.alloc(RTMFP_CONTENT_OFFSET + size + 16);
    randomBytes(size).copy(buf, RTMFP_CONTENT_OFFSET);
    const wire = Buffer.from(buf.subarray(0, ts.encryptPacket(sealKey, 7, buf, RTMFP_CONTENT_OFFSET + size, buf, 0)));
    const tsRun = opener(ts, rawKey, wire);
    const nativeRun = native === null ? null : opener(native, rawKey, wire);
    if (nativeRun !== null) {
      assertSame(`decrypt ${size}`, Buffer.from(tsRun()), nativeRun());
    }
    return { name: `decrypt ${wire.length} B datagram`, units: 1, unitName: 'packet', ts: tsRun, native: nativeRun };
  });
  runMicro('decrypt', cases, parseOptions(argv));
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
