/**
 * RtmpSocketWriter + FrameWriteBatch: a turn's frames leave in one batch, directly (native, or a
 * scripted SocketIo that takes only part of the bytes, nothing, or fails) or through Node, and
 * every receiver gets exactly the bytes in the order they were written.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { NativeSocketIo, type SocketIo, nodeSocketIo } from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { FrameWriteBatch, RtmpSocketWriter } from '../../../src/protocols/rtmp/RtmpSocketWriter.js';
import { LoopbackTcp, collect } from '../../helpers/tcpPairs.js';

const load = loadNativeAddon();
const native = load.addon !== null ? new NativeSocketIo(load.addon) : null;

/**
 * A SocketIo that decides per call what the "kernel" takes: `take(wanted)` returns the bytes to
 * write (really written to the descriptor, so the receiver sees them) or -errno.
 */
const scriptedIo = (take: (wanted: number, fd: number) => number): SocketIo => ({
  ...nodeSocketIo,
  name: 'scripted',
  batchedTcp: true,
  writeStreams(count, fds, pieces, refs, refOffsets, results) {
    for (let i = 0; i < count; i++) {
      if (fds[i] < 0) {
        continue;
      }
      const bytes = Buffer.concat([...refs.subarray(refOffsets[i], refOffsets[i + 1])].map((k) => pieces[k]));
      const n = take(bytes.length, fds[i]);
      if (n < 0) {
        results[i] = n;
        continue;
      }
      let done = 0;
      while (done < n) {
        done += writeSync(fds[i], bytes, done, n - done);
      }
      results[i] = n;
    }
  },
});

interface Arm {
  name: string;
  io: () => SocketIo | null;
  skip?: string | false;
}

const arms: Arm[] = [
  { name: 'native', io: () => native, skip: native?.batchedTcp === true ? false : 'native batched TCP writes not available' },
  { name: 'node', io: () => null },
  // Half of what is asked each time (at least 1 byte): every flush is a partial write.
  { name: 'partial writes', io: () => scriptedIo((wanted) => Math.max(1, wanted >> 1)) },
  // Nothing taken: every flush is EAGAIN.
  { name: 'EAGAIN', io: () => scriptedIo(() => 0) },
];

describe('RtmpSocketWriter and FrameWriteBatch', () => {
  const tcp = new LoopbackTcp();

  before(() => tcp.start());
  after(() => tcp.close());

  /** `n` connections: the accepted (server) side is written by writers, the client side collects. */
  const connections = async (n: number, batch: FrameWriteBatch): Promise<Array<{ writer: RtmpSocketWriter; peer: Socket; received: () => Buffer }>> => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const { client, accepted } = await tcp.pair();
      out.push({ writer: new RtmpSocketWriter(accepted, batch), peer: client, received: collect(client) });
    }
    return out;
  };

  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 2000 && !done(); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const frame = (tag: number, size: number): Buffer => {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) {
      b[i] = (tag * 31 + i) & 0xff;
    }
    return b;
  };

  for (const arm of arms) {
    it(`${arm.name}: every receiver gets its frames and immediate writes in write order`, { skip: arm.skip ?? false }, async () => {
      const batch = new FrameWriteBatch(arm.io());
      const conns = await connections(6, batch);
      const expected: Buffer[][] = conns.map(() => []);
      // 20 turns; in each, 1-3 frames to every writer (shared buffers), an immediate write to
      // one writer in the middle of the turn, and one writer that skips the turn.
      for (let turn = 0; turn < 20; turn++) {
        const frames = Array.from({ length: 1 + (turn % 3) }, (_, k) => frame(turn * 4 + k, 100 + ((turn * 977 + k * 4099) % 20000)));
        frames.forEach((f, k) => {
          conns.forEach((c, i) => {
            if (i === turn % 6) {
              return; // this writer skips the turn
            }
            c.writer.writeFrame(f);
            expected[i].push(f);
            if (k === 0 && i === (turn + 3) % 6) {
              const control = Buffer.from(`control ${turn}`);
              c.writer.write(control);
              expected[i].push(control);
            }
          });
        });
        assert.ok(conns.some((c) => c.writer.batchCount > 0), 'frames wait for the end of the turn');
        await new Promise((r) => setImmediate(r));
      }
      const want = expected.map((e) => Buffer.concat(e));
      await until(() => conns.every((c, i) => c.received().length >= want[i].length));
      conns.forEach((c, i) => assert.ok(c.received().equals(want[i]), `receiver ${i}: ${c.received().length} bytes, expected ${want[i].length}`));
      if (arm.name === 'native') {
        assert.ok(batch.stats.direct > 0, 'frames were written directly');
      }
      if (arm.name === 'node') {
        assert.equal(batch.stats.direct + batch.stats.partial, 0);
      }
      if (arm.name === 'partial writes') {
        assert.ok(batch.stats.partial > 0, 'partial direct writes happened');
      }
    });
  }

  for (const arm of arms.slice(0, 2)) {
    it(`${arm.name}: with mergeWrite, frames of several turns leave together, queued control behind them, in order`, { skip: arm.skip ?? false }, async () => {
      const batch = new FrameWriteBatch(arm.io());
      batch.mergeMs = 60;
      const conns = await connections(3, batch);
      const expected: Buffer[][] = conns.map(() => []);
      const started = Date.now();
      for (let turn = 0; turn < 4; turn++) {
        const f = frame(turn, 500 + turn * 100);
        conns.forEach((c, i) => {
          c.writer.writeFrame(f);
          expected[i].push(f);
        });
        if (turn === 1) {
          // A ping to a player waits behind its frames (it does not force the batch out).
          const ping = Buffer.from('ping');
          conns[0].writer.writeQueued(ping);
          expected[0].push(ping);
        }
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(conns.every((c) => c.received().length === 0), 'nothing sent before mergeWrite elapsed');
      assert.ok(conns.every((c) => c.writer.queuedBytes === 0), 'held frames are not a backlog');
      const want = expected.map((e) => Buffer.concat(e));
      await until(() => conns.every((c, i) => c.received().length >= want[i].length));
      assert.ok(Date.now() - started >= 55, 'held for mergeWrite');
      conns.forEach((c, i) => assert.ok(c.received().equals(want[i]), `receiver ${i}`));
      // An immediate write (a status) sends what is held first, then itself.
      const f = frame(9, 300);
      conns[1].writer.writeFrame(f);
      const status = Buffer.from('status');
      conns[1].writer.write(status);
      await until(() => conns[1].received().length >= want[1].length + f.length + status.length);
      assert.ok(conns[1].received().subarray(want[1].length).equals(Buffer.concat([f, status])));
      assert.ok(Date.now() - started < 1000);
    });
  }

  it('native: a receiver that stops reading makes its frames queue in Node, in order, until it reads again', { skip: arms[0].skip ?? false }, async () => {
    const batch = new FrameWriteBatch(native);
    const [slow, fast] = await connections(2, batch);
    slow.peer.pause();
    const sent: Buffer[] = [];
    // Up to 200 turns of 256 KiB (bounded): enough to fill loopback buffers many times over.
    for (let turn = 0; turn < 200 && slow.writer.socket.writableLength === 0; turn++) {
      const f = frame(turn, 256 * 1024);
      slow.writer.writeFrame(f);
      fast.writer.writeFrame(f);
      sent.push(f);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(slow.writer.socket.writableLength > 0, 'Node holds the bytes the kernel did not take');
    assert.equal(slow.writer.queuedBytes, slow.writer.socket.writableLength, 'queued bytes include what Node holds');
    const partialBefore = batch.stats.partial;
    for (let turn = 0; turn < 5; turn++) {
      const f = frame(1000 + turn, 1000);
      slow.writer.writeFrame(f);
      fast.writer.writeFrame(f);
      assert.equal(slow.writer.queuedBytes, slow.writer.socket.writableLength, 'not this turn\'s frames');
      assert.equal(fast.writer.queuedBytes, fast.writer.socket.writableLength);
      sent.push(f);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(batch.stats.partial >= 1 && batch.stats.node >= 5, 'later frames went through Node behind the queued bytes');
    assert.equal(batch.stats.partial, partialBefore, 'no direct write while Node had bytes queued');
    slow.peer.resume();
    const want = Buffer.concat(sent);
    await until(() => slow.received().length >= want.length && fast.received().length >= want.length);
    assert.equal(slow.writer.queuedBytes, 0, 'drained: nothing queued');
    assert.equal(slow.writer.socket.writableLength, 0);
    assert.ok(slow.received().equals(want), 'slow receiver: exact bytes');
    assert.ok(fast.received().equals(want), 'fast receiver: exact bytes');
  });

  it('a failed direct write closes that socket with the errno, and the others get their bytes', async () => {
    let victim = -2;
    const batch = new FrameWriteBatch(scriptedIo((wanted, fd) => (fd === victim ? -constants.errno.EPIPE : wanted)));
    const conns = await connections(3, batch);
    victim = conns[1].writer.directFd();
    const errors: Error[] = [];
    conns[1].writer.socket.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => conns[1].writer.socket.on('close', r));
    const f = frame(7, 5000);
    conns.forEach((c) => c.writer.writeFrame(f));
    await closed;
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as NodeJS.ErrnoException).code, 'EPIPE');
    assert.equal(batch.stats.failed, 1);
    await until(() => conns[0].received().length >= f.length && conns[2].received().length >= f.length);
    assert.ok(conns[0].received().equals(f) && conns[2].received().equals(f));
  });

  it('settle() sends the queued frames at once, so they precede an end()', async () => {
    const batch = new FrameWriteBatch(native?.batchedTcp === true ? native : null);
    const [c] = await connections(1, batch);
    const f = frame(3, 3000);
    c.writer.writeFrame(f);
    c.writer.settle();
    assert.equal(c.writer.queuedBytes, c.writer.socket.writableLength);
    c.writer.socket.end();
    await once(c.peer, 'end');
    assert.ok(c.received().equals(f));
  });
});
