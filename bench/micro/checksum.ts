/**
 * Checksum alone (rtmfp.md §1.1), raw native call (no size threshold) against the TS loop, at the
 * sizes the server sees: a tiny ack, a small packet, a mid one, a full 1184-byte body. The
 * crossover here sets NATIVE_CHECKSUM_MIN_BYTES (src/kernels/native/NativeKernels.ts).
 */
import { randomBytes } from 'node:crypto';
import { loadNativeAddon } from '../../src/kernels/native/nativeAddon.js';
import { checksum } from '../../src/kernels/ts/checksum.js';
import type { MicroCase, MicroOptions } from './microBench.js';
import { assertSame, isMain, parseOptions, runMicro } from './microBench.js';

export function main(argv: string[]): void {
  const loaded = loadNativeAddon();
  const addon = loaded.addon;
  if (addon === null) {
    process.stderr.write(`micro: ${loaded.reason}; timing the TS kernels only\n`);
  }
  const options: MicroOptions = parseOptions(argv);
  let sink = 0;
  const cases: MicroCase[] = [16, 32, 64, 128, 256, 1184].map((size) => {
    const buf = randomBytes(size);
    if (addon !== null) {
      assertSame(`checksum ${size}`, checksum(buf, 0, size), addon.checksum(buf, 0, size));
    }
    return {
      name: `checksum ${size} B`,
      units: size,
      unitName: 'byte',
      ts: () => {
        sink ^= checksum(buf, 0, size);
      },
      native: addon === null ? null : () => {
        sink ^= addon.checksum(buf, 0, size);
      },
    };
  });
  runMicro('checksum', cases, options);
  if (sink === -1) {
    process.stderr.write('unreachable\n');
  }
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
