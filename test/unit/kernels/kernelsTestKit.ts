/**
 * Shared helpers for the kernel tests: both implementations side by side (the native one may be
 * absent: its tests then skip with the reason, unless NIMBUS_NATIVE_REQUIRED=1 as in CI, where
 * they fail), and independent references (fresh zero-IV AES-128-CBC, a naive RFC 1071 sum).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TsKernels, loadNativeKernels } from '../../../src/kernels/index.js';
import type { FanOutBatch, Kernels } from '../../../src/kernels/index.js';

export const nativeRequired = process.env.NIMBUS_NATIVE_REQUIRED === '1';
const native = loadNativeKernels();
/** The native kernels, or null when the addon is not built or does not load. */
export const nativeKernels = typeof native === 'string' ? null : native;
/** `skip` option for native-only tests: false when the addon is there (or required: then they fail). */
export const nativeSkip: string | false =
  nativeKernels !== null || nativeRequired ? false : `${native as string}: run \`npm run build:native\``;

export interface Implementation {
  name: string;
  /** Throws when the native addon is required but missing (the test then fails, not skips). */
  kernels: () => Kernels;
  skip: string | false;
}

export const implementations: Implementation[] = [
  { name: 'ts', kernels: () => new TsKernels(), skip: false },
  {
    name: 'native',
    kernels: () => {
      if (nativeKernels === null) {
        throw new Error(`NIMBUS_NATIVE_REQUIRED=1 but ${native as string}`);
      }
      return nativeKernels;
    },
    skip: nativeSkip,
  },
];

const ZERO_IV = Buffer.alloc(16);
export const freshEncrypt = (key: Uint8Array, plain: Buffer): Buffer => {
  const c = createCipheriv('aes-128-cbc', key, ZERO_IV).setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]);
};
export const freshDecrypt = (key: Uint8Array, data: Buffer): Buffer => {
  const d = createDecipheriv('aes-128-cbc', key, ZERO_IV).setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
};

/** Straight from RFC 1071 with RTMFP's odd-byte rule, written independently of the kernels. */
export const naiveChecksum = (bytes: Uint8Array): number => {
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

/** A fan-out batch over raw keys and heads, with keys made by `kernels`. */
export function makeBatch(kernels: Kernels, rawKeys: Uint8Array[], heads: Uint8Array[], ssids: number[]): FanOutBatch {
  const batch: FanOutBatch = {
    count: heads.length,
    keys: rawKeys.map((k) => kernels.createPacketKey(k)),
    ssids: Uint32Array.from(ssids),
    heads: Buffer.concat(heads),
    headOffsets: new Uint32Array(heads.length + 1),
  };
  heads.forEach((h, i) => {
    batch.headOffsets[i + 1] = batch.headOffsets[i] + h.length;
  });
  return batch;
}
