/**
 * encryptPackets: what one event-loop turn of an RTMFP socket seals (DatagramBatch): N packets of
 * N sessions, each with its own content, key and SSID, in one call, against N encryptPacket
 * calls on the same implementation. Packets are full-size (1182 bytes of content). The native
 * kernel runs on multi-buffer AES-NI where the CPU has it.
 */
import { randomBytes } from 'node:crypto';
import { RTMFP_CONTENT_OFFSET, RTMFP_MAX_CONTENT, rtmfpDatagramLength } from '../../src/kernels/index.js';
import type { Kernels, PacketBatch } from '../../src/kernels/index.js';
import type { MicroCase } from './microBench.js';
import { assertSame, bothKernels, isMain, parseOptions, runMicro } from './microBench.js';

const SLOT = 1216;
const END = RTMFP_CONTENT_OFFSET + RTMFP_MAX_CONTENT;

function batchOf(kernels: Kernels, rawKeys: Buffer[], contents: Buffer): { batch: PacketBatch; out: Buffer; offsets: Uint32Array } {
  const count = rawKeys.length;
  const packets = Buffer.alloc(count * SLOT);
  for (let i = 0; i < count; i++) {
    contents.copy(packets, i * SLOT + RTMFP_CONTENT_OFFSET, i * RTMFP_MAX_CONTENT, (i + 1) * RTMFP_MAX_CONTENT);
  }
  const batch: PacketBatch = {
    count,
    keys: rawKeys.map((k) => kernels.createPacketKey(k)),
    ssids: Uint32Array.from(rawKeys, (_, i) => 0x1000 + i),
    packets,
    starts: Uint32Array.from({ length: count }, (_, i) => i * SLOT),
    ends: Uint32Array.from({ length: count }, (_, i) => i * SLOT + END),
  };
  return { batch, out: Buffer.alloc(count * rtmfpDatagramLength(END)), offsets: new Uint32Array(count + 1) };
}

const batched = (kernels: Kernels, rawKeys: Buffer[], contents: Buffer): (() => Buffer) => {
  const { batch, out, offsets } = batchOf(kernels, rawKeys, contents);
  return () => out.subarray(0, kernels.encryptPackets(batch, out, offsets));
};

const oneByOne = (kernels: Kernels, rawKeys: Buffer[], contents: Buffer): (() => Buffer) => {
  const { batch, out } = batchOf(kernels, rawKeys, contents);
  return () => {
    let at = 0;
    for (let i = 0; i < batch.count; i++) {
      at += kernels.encryptPacket(batch.keys[i], batch.ssids[i], batch.packets.subarray(batch.starts[i]), END, out, at);
    }
    return out.subarray(0, at);
  };
};

export function main(argv: string[]): void {
  const { ts, native } = bothKernels();
  const cases: MicroCase[] = [];
  for (const count of [8, 64, 256]) {
    const rawKeys = Array.from({ length: count }, () => randomBytes(16));
    const contents = randomBytes(count * RTMFP_MAX_CONTENT);
    const tsRun = batched(ts, rawKeys, contents);
    const nativeRun = native === null ? null : batched(native, rawKeys, contents);
    if (nativeRun !== null) {
      assertSame(`packets ${count}`, Buffer.from(tsRun()), nativeRun());
    }
    cases.push({ name: `encryptPackets ${count} x 1188 B`, units: count, unitName: 'datagram', ts: tsRun, native: nativeRun });
    cases.push({
      name: `encryptPacket one by one ${count} x 1188 B`,
      units: count,
      unitName: 'datagram',
      ts: oneByOne(ts, rawKeys, contents),
      native: native === null ? null : oneByOne(native, rawKeys, contents),
    });
  }
  runMicro('encryptPackets', cases, parseOptions(argv));
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
