/** SocketIo on the native addon (native/src/udpSend.cc): batched sendmmsg on Node's UDP sockets. */
import { release } from 'node:os';
import type { SocketIo } from '../SocketIo.js';
import type { NativeAddon } from './nativeAddon.js';

/**
 * UDP_SEGMENT exists since Linux 4.18; an older kernel would not refuse the option but ignore it
 * and send a run as one large datagram, so segmentation is only asked of kernels known to have it.
 */
export function kernelHasUdpSegmentation(osRelease: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(osRelease);
  return m !== null && (Number(m[1]) > 4 || (Number(m[1]) === 4 && Number(m[2]) >= 18));
}

export class NativeSocketIo implements SocketIo {
  readonly name = 'native';
  readonly batchedUdp: boolean;
  readonly batchedTcp: boolean;

  constructor(
    private readonly addon: NativeAddon,
    segmentation = true,
  ) {
    this.batchedUdp = addon.sendDatagramsAvailable;
    this.batchedTcp = addon.writeStreamsAvailable === true;
    addon.setUdpSegmentation(segmentation && kernelHasUdpSegmentation(release()));
  }

  receiveDatagrams(fd: number, slab: Buffer, slot: number, max: number, lengths: Uint32Array, addresses: Buffer): number {
    return this.addon.receiveDatagrams(fd, slab, slot, max, lengths, addresses);
  }

  sendDatagrams(fd: number, data: Buffer, offsets: Uint32Array, addresses: Buffer, count: number): number {
    return this.addon.sendDatagrams(fd, data, offsets, addresses, count);
  }

  writeStreams(
    count: number,
    fds: Int32Array,
    pieces: readonly Buffer[],
    refs: Uint16Array,
    refOffsets: Uint32Array,
    results: Int32Array,
  ): void {
    this.addon.writeStreams(count, fds, pieces, refs, refOffsets, results);
  }
}
