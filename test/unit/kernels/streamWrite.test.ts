/**
 * The native batched TCP write (`SocketIo.writeStreams`, native/src/streamWrite.cc) on real
 * loopback sockets: bytes and order, a full send buffer (partial write, then EAGAIN), a socket
 * that can no longer be written (-errno), descriptors it must not touch, bounds.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { constants } from 'node:os';
import { NativeSocketIo, type SocketIo, nodeSocketIo } from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { LoopbackTcp, collect } from '../../helpers/tcpPairs.js';
import { nativeRequired } from './kernelsTestKit.js';

const load = loadNativeAddon();
const io: SocketIo | null = load.addon !== null ? new NativeSocketIo(load.addon) : null;
const skip: string | false =
  io !== null && io.batchedTcp
    ? false
    : nativeRequired && process.platform === 'linux'
      ? false
      : io === null
        ? `${'reason' in load ? load.reason : ''}: run \`npm run build:native\``
        : 'batched TCP writes are Linux only';

const nativeIo = (): SocketIo => {
  if (io === null || !io.batchedTcp) {
    throw new Error('NIMBUS_NATIVE_REQUIRED=1 but the native batched TCP write is not available');
  }
  return io;
};

const fdOf = (socket: Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;

interface Pair {
  /** Our end: we write on its descriptor. */
  local: Socket;
  /** The peer: collects what arrives. */
  remote: Socket;
  received: () => Buffer;
}

describe('native writeStreams', { skip }, () => {
  const tcp = new LoopbackTcp();

  before(() => tcp.start());
  after(() => tcp.close());

  /** We write on the client end's descriptor; the listener's end collects. */
  const pair = async (): Promise<Pair> => {
    const { client, accepted } = await tcp.pair();
    return { local: client, remote: accepted, received: collect(accepted) };
  };

  const waitFor = async (p: Pair, bytes: number): Promise<void> => {
    for (let i = 0; i < 2000 && p.received().length < bytes; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('writes each stream its pieces in order, one call for many sockets, and leaves fd -1 alone', async () => {
    const streams = await Promise.all(Array.from({ length: 5 }, () => pair()));
    const pieces = [Buffer.from('alpha-'), Buffer.from('beta-'), Buffer.alloc(3000, 7), Buffer.from('')];
    // stream 0: 0 1; stream 1: 2 0 0; stream 2: skipped (fd -1); stream 3: 1 3 2; stream 4: nothing
    const lists = [[0, 1], [2, 0, 0], [1], [1, 3, 2], []];
    const refs = new Uint16Array(lists.flat());
    const offsets = new Uint32Array(lists.length + 1);
    lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
    const fds = new Int32Array(streams.map((p, i) => (i === 2 ? -1 : fdOf(p.local))));
    const results = new Int32Array(lists.length).fill(-12345);
    nativeIo().writeStreams(lists.length, fds, pieces, refs, offsets, results);
    lists.forEach((l, i) => {
      const expected = Buffer.concat(l.map((k) => pieces[k]));
      assert.equal(results[i], i === 2 ? -12345 : expected.length, `stream ${i} result`);
    });
    for (const [i, l] of lists.entries()) {
      const expected = i === 2 ? Buffer.alloc(0) : Buffer.concat(l.map((k) => pieces[k]));
      await waitFor(streams[i], expected.length);
      assert.ok(streams[i].received().equals(expected), `stream ${i} bytes`);
    }
  });

  it('takes what fits when the send buffer fills (partial write), then reports 0 (EAGAIN)', async () => {
    const p = await pair();
    p.remote.pause(); // nothing is read: the kernel's buffers fill
    const piece = Buffer.alloc(1 << 20);
    for (let i = 0; i < piece.length; i += 4) {
      piece.writeUInt32BE(i, i);
    }
    const fds = new Int32Array([fdOf(p.local)]);
    const refs = new Uint16Array([0, 0, 0, 0]);
    const offsets = new Uint32Array([0, 4]);
    const results = new Int32Array(1);
    const sent: number[] = [];
    let partial = false;
    // Bounded: loopback buffers are a few MiB at most; 64 calls of 4 MiB is far more.
    for (let i = 0; i < 64 && !partial; i++) {
      nativeIo().writeStreams(1, fds, [piece], refs, offsets, results);
      assert.ok(results[0] >= 0, `no error while the peer is alive (got ${results[0]})`);
      sent.push(results[0]);
      partial = results[0] < 4 * piece.length;
    }
    assert.ok(partial, 'the send buffer filled');
    nativeIo().writeStreams(1, fds, [piece], refs, offsets, results);
    assert.equal(results[0], 0, 'a full buffer takes nothing: EAGAIN is 0, not an error');
    const total = sent.reduce((a, b) => a + b, 0);
    p.remote.resume();
    await waitFor(p, total);
    const got = p.received();
    assert.equal(got.length, total, 'exactly the bytes reported arrived');
    // Every byte is the repeating piece from the start: nothing skipped, nothing repeated.
    for (let off = 0; off < got.length; off += piece.length) {
      const n = Math.min(piece.length, got.length - off);
      assert.ok(got.subarray(off, off + n).equals(piece.subarray(0, n)), `bytes at ${off}`);
    }
  });

  it('reports -errno for a socket that cannot be written (EPIPE after our end was shut down)', async () => {
    const p = await pair();
    const fd = fdOf(p.local);
    p.local.end();
    await once(p.local, 'finish');
    const results = new Int32Array(1);
    nativeIo().writeStreams(1, new Int32Array([fd]), [Buffer.from('late')], new Uint16Array([0]), new Uint32Array([0, 1]), results);
    assert.equal(results[0], -constants.errno.EPIPE);
  });

  it('reports -errno for a descriptor that is not open', () => {
    const results = new Int32Array(1);
    nativeIo().writeStreams(1, new Int32Array([1_000_000]), [Buffer.from('x')], new Uint16Array([0]), new Uint32Array([0, 1]), results);
    assert.equal(results[0], -constants.errno.EBADF);
  });

  it('throws a RangeError for tables that do not match the count or the pieces', () => {
    const native = nativeIo();
    const one = new Int32Array([-1]);
    assert.throws(() => native.writeStreams(2, one, [], new Uint16Array(0), new Uint32Array(3), new Int32Array(2)), RangeError);
    assert.throws(() => native.writeStreams(1, one, [Buffer.from('a')], new Uint16Array([1]), new Uint32Array([0, 1]), new Int32Array(1)), RangeError);
    assert.throws(() => native.writeStreams(1, one, [Buffer.from('a')], new Uint16Array([0]), new Uint32Array([0, 2]), new Int32Array(1)), RangeError);
    assert.throws(() => native.writeStreams(1, one, ['a' as unknown as Buffer], new Uint16Array([0]), new Uint32Array([0, 1]), new Int32Array(1)), RangeError);
  });
});

describe('node SocketIo (the fallback)', () => {
  it('handles nothing: every stream it is given reports 0 bytes, to be written through Node', () => {
    assert.equal(nodeSocketIo.batchedTcp, false);
    const results = new Int32Array([7, 7]);
    nodeSocketIo.writeStreams(2, new Int32Array([5, -1]), [Buffer.from('x')], new Uint16Array([0, 0]), new Uint32Array([0, 1, 2]), results);
    assert.deepEqual([...results], [0, 7]);
  });
});
