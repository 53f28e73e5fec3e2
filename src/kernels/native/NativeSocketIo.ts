/** SocketIo on the native addon (native/src/udpSend.cc): batched sendmmsg on Node's UDP sockets. */
import type { SocketIo } from '../SocketIo.js';
import type { NativeAddon } from './nativeAddon.js';

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
    addon.setUdpSegmentation(segmentation);
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
