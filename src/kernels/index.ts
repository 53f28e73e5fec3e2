/**
 * Kernel loader (style rule 12, bufferutil/ws pattern): the native addon when it is built and
 * allowed, otherwise the TypeScript kernels, which produce the same bytes. The addon does not
 * exist yet (native/README.md), so this returns the TS kernels today; `NIMBUS_NO_NATIVE=1` is the
 * switch that will force them once it does. The choice is logged once per thread.
 */
import { Logger } from '../util/Logger.js';
import type { Kernels } from './Kernels.js';
import { TsKernels } from './ts/TsKernels.js';

export type { FanOutBatch, Kernels, PacketKey } from './Kernels.js';
export {
  DECRYPT_BAD_CHECKSUM,
  DECRYPT_BAD_LENGTH,
  RTMFP_CONTENT_OFFSET,
  RTMFP_MAX_CONTENT,
  RTMFP_MAX_DATAGRAM,
  RTMFP_SSID_SIZE,
  rtmfpDatagramLength,
} from './Kernels.js';
export { TsKernels } from './ts/TsKernels.js';

const log = new Logger('kernels');
let loaded: Kernels | null = null;

/** The kernels of this thread (one instance: it owns scratch buffers, not key state). */
export function loadKernels(): Kernels {
  if (loaded === null) {
    const forced = process.env.NIMBUS_NO_NATIVE === '1';
    loaded = new TsKernels();
    log.info(`using the ${loaded.name} kernels (${forced ? 'NIMBUS_NO_NATIVE=1' : 'no native addon built'})`);
  }
  return loaded;
}
