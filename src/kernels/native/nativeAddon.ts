/**
 * Finds and loads the native kernels addon (`binding.gyp` → `build/Release/nimbus_kernels.node`).
 * A plain `createRequire` of the built file, as node-gyp-build would do without prebuilds: no extra
 * dependency. The path is the same from `src/kernels/native/` (tsx) and `dist/kernels/native/`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon exports (native/src/addon.cc): the Kernels methods, the fan-out batch flattened. */
export interface NativeAddon {
  readonly napiVersion: number;
  checksum(buf: Uint8Array, start: number, end: number): number;
  createPacketKey(key: Uint8Array, hmacKey: Uint8Array | undefined, hmacLength: number, sequenceNumbers: boolean): object;
  sealedLength(key: unknown, end: number): number;
  /** Test hook: the next `n` AES calls of this thread fail as an OpenSSL failure would. */
  injectCryptoFailures(n: number): void;
  encryptPacket(key: object, ssid: number, packet: Buffer, end: number, out: Buffer, outOffset: number): number;
  decryptPacket(key: object, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number;
  encryptFanOut(
    count: number,
    keys: readonly object[],
    ssids: Uint32Array,
    heads: Buffer,
    headOffsets: Uint32Array,
    payload: Buffer,
    payloadStart: number,
    payloadEnd: number,
    out: Buffer,
    outOffsets: Uint32Array,
  ): number;
  decryptPackets(count: number, keys: readonly object[], datagrams: Buffer, starts: Uint32Array, ends: Uint32Array, results: Int32Array): void;
  encryptPackets(
    count: number,
    keys: readonly object[],
    ssids: Uint32Array,
    packets: Buffer,
    starts: Uint32Array,
    ends: Uint32Array,
    out: Buffer,
    outOffsets: Uint32Array,
  ): number;
  /** Fan-out on multi-buffer AES-NI (default) or OpenSSL, for this thread; returns whether multi-buffer is on. */
  setMultiBufferAes(enabled: boolean): boolean;
  /** Whether `sendDatagrams` can send on this platform (sendmmsg: Linux). */
  readonly sendDatagramsAvailable: boolean;
  /** SocketIo.sendDatagrams (src/kernels/SocketIo.ts). */
  sendDatagrams(fd: number, data: Buffer, offsets: Uint32Array, addresses: Buffer, count: number): number;
  /** Whether `writeStreams` can write on this platform (Linux); undefined in an addon built before it. */
  readonly writeStreamsAvailable?: boolean;
  /** SocketIo.writeStreams (src/kernels/SocketIo.ts, native/src/streamWrite.h). */
  writeStreams(
    count: number,
    fds: Int32Array,
    pieces: readonly Buffer[],
    refs: Uint16Array,
    refOffsets: Uint32Array,
    results: Int32Array,
  ): void;
  /** SocketIo.receiveDatagrams (src/kernels/SocketIo.ts). */
  receiveDatagrams(fd: number, slab: Buffer, slot: number, max: number, lengths: Uint32Array, addresses: Buffer): number;
  /** Whether `duplicateStream` works here (POSIX); undefined in an addon built before it. */
  readonly duplicateStreamAvailable?: boolean;
  /** SocketHandover.duplicateStream (src/kernels/SocketHandover.ts, native/src/socketHandover.h). */
  duplicateStream(fd: number): number;
  closeDescriptor(fd: number): number;
  /** Whether `sendDatagrams` may send runs to one destination as one UDP_SEGMENT message (this thread); returns the state. */
  setUdpSegmentation(enabled: boolean): boolean;
}

const root = new URL('../../../', import.meta.url);
/** Where node-gyp puts the addon: Release first, Debug (`node-gyp rebuild --debug`) if only that exists. */
export const ADDON_CANDIDATES = ['build/Release/nimbus_kernels.node', 'build/Debug/nimbus_kernels.node'].map((p) =>
  fileURLToPath(new URL(p, root)),
);

/** `built`: a file was found (a load failure is then worth a warning, a missing build is not). */
export type AddonLoad = { addon: NativeAddon; path: string } | { addon: null; reason: string; built: boolean };

/** Loads the addon of this thread (require caches it per thread), or says why it cannot. */
export function loadNativeAddon(): AddonLoad {
  const path = ADDON_CANDIDATES.find((p) => existsSync(p));
  if (path === undefined) {
    return { addon: null, reason: 'native addon not built', built: false };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    // A smoke call: a binary built for another Node or missing OpenSSL symbols fails here, not
    // on the first packet.
    if (addon.checksum(Buffer.from([1, 2, 3]), 0, 3) !== (~0x0105 & 0xffff)) {
      return { addon: null, reason: `native addon at ${path} computes wrong checksums`, built: true };
    }
    return { addon, path };
  } catch (error) {
    return { addon: null, reason: `native addon at ${path} failed to load: ${(error as Error).message}`, built: true };
  }
}
