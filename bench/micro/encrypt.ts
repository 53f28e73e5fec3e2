/**
 * encryptPacket: 0xFF padding, checksum, zero-IV AES-128-CBC and SSID scrambling of one packet,
 * in place as RtmfpSessionOutput does, on one persistent key. Sizes: an ack-sized packet and a
 * full media fragment (RTMFP_MAX_CONTENT).
 */
import { randomBytes } from 'node:crypto';
import { RTMFP_CONTENT_OFFSET, RTMFP_MAX_CONTENT } from '../../src/kernels/index.js';
import type { Kernels } from '../../src/kernels/index.js';
import type { MicroCase } from './microBench.js';
import { assertSame, bothKernels, isMain, parseOptions, runMicro } from './microBench.js';

/** A closure sealing `content` again and again with one key of `kernels`; returns the last datagram. */
function sealer(kernels: Kernels, rawKey: Buffer, content: Buffer): () => Buffer {
  const key = kernels.createPacketKey(rawKey);
  const buf = Buffer.alloc(RTMFP_CONTENT_OFFSET + content.length + 16);
  const end = RTMFP_CONTENT_OFFSET + content.length;
  return () => {
    content.copy(buf, RTMFP_CONTENT_OFFSET);
    return buf.subarray(0, kernels.encryptPacket(key, 0x01020304, buf, end, buf, 0));
  };
}

export function main(argv: string[]): void {
  const { ts, native } = bothKernels();
  const rawKey = randomBytes(16);
  const cases: MicroCase[] = [32, 400, RTMFP_MAX_CONTENT].map((size) => {
    const content = randomBytes(size);
    const tsRun = sealer(ts, rawKey, content);
    const nativeRun = native === null ? null : sealer(native, rawKey, content);
    if (nativeRun !== null) {
      assertSame(`encrypt ${size}`, Buffer.from(tsRun()), nativeRun());
    }
    return { name: `encrypt ${size} B content`, units: 1, unitName: 'packet', ts: tsRun, native: nativeRun };
  });
  runMicro('encrypt', cases, parseOptions(argv));
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
