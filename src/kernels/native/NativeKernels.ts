/**
 * The Kernels interface on the native addon (native/src): same signatures, same bytes as the TS
 * kernels (test/unit/kernels checks both). The wrapper only flattens the fan-out batch, which the
 * addon takes as positional arguments because property reads through N-API cost more.
 */
import type { DecryptBatch, FanOutBatch, Kernels, PacketBatch, PacketKey, PacketKeyOptions } from '../Kernels.js';
import { checksum as tsChecksum } from '../ts/checksum.js';
import { checkChecksum } from '../ts/kernelArgs.js';
import type { NativeAddon } from './nativeAddon.js';

/**
 * Below this many bytes the JS checksum beats the N-API call (bench/micro/checksum.ts); the
 * packet kernels always go native, their AES work dwarfs the call. Same idea as ws's thresholds.
 */
export const NATIVE_CHECKSUM_MIN_BYTES = 128;

export class NativeKernels implements Kernels {
  readonly name = 'native';

  constructor(
    private readonly addon: NativeAddon,
    /** Where the addon was loaded from, for logs. */
    readonly path: string,
  ) {}

  checksum(buf: Uint8Array, start: number, end: number): number {
    if (end - start < NATIVE_CHECKSUM_MIN_BYTES) {
      checkChecksum(buf, start, end);
      return tsChecksum(buf, start, end);
    }
    return this.addon.checksum(buf, start, end);
  }

  createPacketKey(key: Uint8Array, options?: PacketKeyOptions): PacketKey {
    return this.addon.createPacketKey(key, options?.hmacKey, options?.hmacLength ?? 0, options?.sequenceNumbers === true) as PacketKey;
  }

  sealedLength(key: PacketKey, end: number): number {
    return this.addon.sealedLength(key, end);
  }

  /** Test hook: the next `n` AES calls of this thread fail as an OpenSSL failure would. */
  injectCryptoFailures(n: number): void {
    this.addon.injectCryptoFailures(n);
  }

  encryptPacket(key: PacketKey, ssid: number, packet: Buffer, end: number, out: Buffer, outOffset: number): number {
    return this.addon.encryptPacket(key, ssid, packet, end, out, outOffset);
  }

  decryptPacket(key: PacketKey, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number {
    return this.addon.decryptPacket(key, datagram, start, end, out, outOffset);
  }

  decryptPackets(batch: DecryptBatch, results: Int32Array): void {
    this.addon.decryptPackets(batch.count, batch.keys, batch.datagrams, batch.starts, batch.ends, results);
  }

  encryptPackets(batch: PacketBatch, out: Buffer, outOffsets: Uint32Array): number {
    return this.addon.encryptPackets(batch.count, batch.keys, batch.ssids, batch.packets, batch.starts, batch.ends, out, outOffsets);
  }

  encryptFanOut(
    batch: FanOutBatch,
    payload: Buffer,
    payloadStart: number,
    payloadEnd: number,
    out: Buffer,
    outOffsets: Uint32Array,
  ): number {
    return this.addon.encryptFanOut(
      batch.count,
      batch.keys,
      batch.ssids,
      batch.heads,
      batch.headOffsets,
      payload,
      payloadStart,
      payloadEnd,
      out,
      outOffsets,
    );
  }
}
