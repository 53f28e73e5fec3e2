/**
 * Kernel loader (style rule 12, the bufferutil/ws pattern): the native addon when it is built,
 * loads and is allowed, otherwise the TypeScript kernels, which produce the same bytes.
 * `NIMBUS_NO_NATIVE=1` forces the TS kernels (also a way to rule the addon out when debugging).
 * The choice, and why, is logged once per thread: each worker_thread loads its own instance of
 * the addon (it is context-aware, native/src/addon.cc) and makes its own keys.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { LogLevel, Logger } from '../util/Logger.js';
import type { Kernels } from './Kernels.js';
import { NativeKernels } from './native/NativeKernels.js';
import { NativeSocketIo } from './native/NativeSocketIo.js';
import { type SocketIo, nodeSocketIo } from './SocketIo.js';
import { type SocketHandover, nativeHandover } from './SocketHandover.js';
import { loadNativeAddon } from './native/nativeAddon.js';
import { TsKernels } from './ts/TsKernels.js';

export type { DecryptBatch, FanOutBatch, Kernels, PacketBatch, PacketKey, PacketKeyOptions } from './Kernels.js';
export {
  DECRYPT_BAD_CHECKSUM,
  DECRYPT_BAD_LENGTH,
  DECRYPT_REPLAYED,
  RTMFP_CONTENT_OFFSET,
  RTMFP_OPTIONS_ROOM,
  RTMFP_MAX_CONTENT,
  RTMFP_MAX_DATAGRAM,
  RTMFP_SSID_SIZE,
  rtmfpDatagramLength,
} from './Kernels.js';
export { TsKernels } from './ts/TsKernels.js';
export { NativeKernels } from './native/NativeKernels.js';
export { NativeSocketIo } from './native/NativeSocketIo.js';
export type { SocketHandover } from './SocketHandover.js';
export { type SocketIo, type UdpHandle, UDP_ADDRESS_ENTRY_SIZE, decodeUdpHost, encodeUdpAddress, nodeSocketIo, udpHandleOf } from './SocketIo.js';

const log = new Logger('kernels');
let loaded: Kernels | null = null;
let loadedSocketIo: SocketIo | null = null;

/** The native kernels, or why they are not available (ignores `NIMBUS_NO_NATIVE`: tests, benchmarks). */
export function loadNativeKernels(): NativeKernels | string {
  const result = loadNativeAddon();
  return result.addon === null ? result.reason : new NativeKernels(result.addon, result.path);
}

/** The kernels of this thread (one instance: it owns scratch buffers, not key state). */
export function loadKernels(): Kernels {
  if (loaded === null) {
    const where = isMainThread ? '' : ` in worker ${threadId}`;
    if (process.env.NIMBUS_NO_NATIVE === '1') {
      loaded = new TsKernels();
      log.info(`using the ts kernels${where} (NIMBUS_NO_NATIVE=1)`);
    } else {
      const result = loadNativeAddon();
      if (result.addon === null) {
        loaded = new TsKernels();
        log.log(result.built ? LogLevel.WARN : LogLevel.INFO, `using the ts kernels${where} (${result.reason})`);
      } else {
        loaded = new NativeKernels(result.addon, result.path);
        log.info(`using the native kernels${where} (${result.path})`);
      }
    }
  }
  return loaded;
}

/**
 * The socket calls of this thread: native with the addon (same rule as `loadKernels`, same
 * `NIMBUS_NO_NATIVE`), otherwise Node's own sends. `NIMBUS_NO_SENDMMSG=1` keeps the native
 * packet kernels but sends through Node, `NIMBUS_NO_GSO=1` batches without UDP segmentation
 * (both to measure what each brings).
 */
export function loadSocketIo(): SocketIo {
  if (loadedSocketIo === null) {
    const result = process.env.NIMBUS_NO_NATIVE === '1' || process.env.NIMBUS_NO_SENDMMSG === '1' ? null : loadNativeAddon();
    loadedSocketIo = result?.addon ? new NativeSocketIo(result.addon, process.env.NIMBUS_NO_GSO !== '1') : nodeSocketIo;
    if (loadedSocketIo.batchedUdp) {
      log.debug(`batched UDP sends (sendmmsg)${isMainThread ? '' : ` in worker ${threadId}`}`);
    }
  }
  return loadedSocketIo;
}

/**
 * Socket handover between threads (RTMP sessions to media workers): with the addon, unless
 * `NIMBUS_NO_NATIVE=1`; null otherwise (RTMP then stays on the main thread). Why not is returned
 * for the log.
 */
export function loadSocketHandover(): SocketHandover | string {
  if (process.env.NIMBUS_NO_NATIVE === '1') {
    return 'NIMBUS_NO_NATIVE=1';
  }
  const result = loadNativeAddon();
  if (result.addon === null) {
    return result.reason;
  }
  return nativeHandover(result.addon) ?? 'the native addon was built without socket handover';
}
