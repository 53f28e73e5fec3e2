/**
 * DatagramBatch: session packets sealed into one slab and sent with one sendmmsg per turn, or
 * through dgram, must reach the peer as the very datagrams a per-packet seal would give, in
 * order, whatever part the native call leaves to Node.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { platform } from 'node:os';
import { describe, it } from 'node:test';
import {
  type Kernels, NativeSocketIo, RTMFP_CONTENT_OFFSET, type SocketIo, TsKernels, nodeSocketIo, rtmfpDatagramLength,
} from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { AddressOrigin, type RtmfpAddress } from '../../../src/protocols/rtmfp/address.js';
import { DatagramBatch } from '../../../src/protocols/rtmfp/DatagramBatch.js';
import { Logger } from '../../../src/util/Logger.js';
import { nativeKernels, nativeSkip } from '../kernels/kernelsTestKit.js';

const nativeIo = (segmentation: boolean): NativeSocketIo => {
  const loaded = loadNativeAddon();
  assert.ok(loaded.addon !== null, loaded.addon === null ? loaded.reason : '');
  return new NativeSocketIo(loaded.addon, segmentation);
};

/** A native SocketIo that hands at most `limit` datagrams per call to the kernel (the rest: Node). */
const capped = (io: SocketIo, limit: number): SocketIo =>
  Object.assign(Object.create(io) as SocketIo, {
    sendDatagrams: (fd: number, data: Buffer, offsets: Uint32Array, addresses: Buffer, count: number) =>
      io.sendDatagrams(fd, data, offsets, addresses, Math.min(count, limit)),
  });

const bound = async (): Promise<Socket> => {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
};

const key = Buffer.alloc(16, 7);

/** Sends `sizes.length` packets alternating over two receivers through a batch, returns what each received. */
async function run(io: () => SocketIo, sizes: number[], kernels: Kernels = new TsKernels()): Promise<{ batch: DatagramBatch }> {
  const sender = await bound();
  const receivers = [await bound(), await bound()];
  try {
    const batch = new DatagramBatch(sender, kernels, io(), new Logger('test'));
    const destinations: RtmfpAddress[] = receivers.map((r) => ({ host: '127.0.0.1', port: r.address().port, origin: AddressOrigin.OBSERVED }));
    const expected: Buffer[][] = [[], []];
    const packetKey = kernels.createPacketKey(key);
    const reference_ = new TsKernels();
    const referenceKey = reference_.createPacketKey(key);
    const scratch = Buffer.alloc(1300);
    sizes.forEach((size, i) => {
      const to = Math.floor(i / 3) % 2; // runs of three to one receiver
      const end = RTMFP_CONTENT_OFFSET + size;
      // Every other packet is built in place in the batch's next slot (no copy on send).
      const target = (i % 2 === 0 ? batch.packetBuffer() : null) ?? scratch;
      target.fill(i & 0xff, RTMFP_CONTENT_OFFSET, end);
      // The reference: a per-packet seal by the TS kernels.
      const reference = Buffer.alloc(rtmfpDatagramLength(end));
      reference_.encryptPacket(referenceKey, 0x1000 + to, Buffer.from(target), end, reference, 0);
      expected[to].push(reference);
      batch.sendPacket(packetKey, 0x1000 + to, target, end, destinations[to]);
    });
    const got = receivers.map(
      (r, k) =>
        new Promise<Buffer[]>((resolve) => {
          const list: Buffer[] = [];
          const timer = setTimeout(() => resolve(list), 3000);
          r.on('message', (m) => {
            list.push(m);
            if (list.length === expected[k].length) {
              clearTimeout(timer);
              resolve(list);
            }
          });
        }),
    );
    batch.flush();
    const received = await Promise.all(got);
    received.forEach((list, k) => {
      assert.equal(list.length, expected[k].length, `receiver ${k}`);
      list.forEach((d, j) => assert.ok(d.equals(expected[k][j]), `receiver ${k} datagram ${j}`));
    });
    return { batch };
  } finally {
    sender.close();
    receivers.forEach((r) => r.close());
  }
}

const sizes = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? 40 + (i % 50) : 1182));

describe('DatagramBatch', () => {
  it('through dgram only (no addon): every datagram as a per-packet seal gives it', async () => {
    const { batch } = await run(() => nodeSocketIo, sizes);
    assert.equal(batch.batching, false);
    assert.equal(batch.stats.viaNode, sizes.length);
  });

  const skip = nativeSkip !== false ? nativeSkip : platform() !== 'linux' ? 'sendmmsg is Linux only' : false;
  for (const segmentation of [false, true]) {
    it(`through sendmmsg (segmentation ${segmentation ? 'on' : 'off'}), more than one slab`, { skip }, async () => {
      const { batch } = await run(() => nativeIo(segmentation), sizes);
      assert.equal(batch.batching, true);
      assert.equal(batch.stats.batched, sizes.length);
      assert.equal(batch.stats.viaNode, 0);
      assert.ok(batch.stats.flushes >= 2, 'a full slab goes out before the explicit flush');
    });
  }

  it('native kernels (multi-buffer AES) through sendmmsg seal as the TS kernels do', { skip }, async () => {
    const { batch } = await run(() => nativeIo(true), sizes, nativeKernels!);
    assert.equal(batch.stats.batched, sizes.length);
  });

  it('what the kernel does not take goes through dgram, in order', { skip }, async () => {
    const { batch } = await run(() => capped(nativeIo(true), 5), sizes.slice(0, 40));
    assert.equal(batch.stats.batched, 5);
    assert.equal(batch.stats.viaNode, 35);
  });
});
