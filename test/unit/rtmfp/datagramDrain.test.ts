/**
 * DatagramDrain: what recvmmsg reads after dgram's first datagram must be the same datagrams, in
 * the same order, from the same sources, as dgram alone would deliver.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { platform } from 'node:os';
import { describe, it } from 'node:test';
import { NativeSocketIo, type SocketIo, nodeSocketIo } from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { DatagramDrain } from '../../../src/protocols/rtmfp/DatagramDrain.js';
import { Logger } from '../../../src/util/Logger.js';
import { nativeSkip } from '../kernels/kernelsTestKit.js';

const skip: string | false = nativeSkip !== false ? nativeSkip : platform() !== 'linux' ? 'recvmmsg is Linux only' : false;

const nativeIo = (): SocketIo => {
  const loaded = loadNativeAddon();
  assert.ok(loaded.addon !== null, loaded.addon === null ? loaded.reason : '');
  return new NativeSocketIo(loaded.addon);
};

const bound = async (type: 'udp4' | 'udp6' = 'udp4', host = '127.0.0.1'): Promise<Socket> => {
  const socket = createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return socket;
};

interface Got {
  index: number;
  length: number;
  from: string;
}

/** Two senders burst `count` datagrams each (with a few too long for a slot); returns what the receiver saw. */
async function burst(io: SocketIo, count: number, type: 'udp4' | 'udp6' = 'udp4', host = '127.0.0.1'): Promise<{ got: Got[]; drain: DatagramDrain; expected: number }> {
  const receiver = await bound(type, host);
  const senders = [await bound(type, host), await bound(type, host)];
  const drain = new DatagramDrain(receiver, io, new Logger('test'));
  const got: Got[] = [];
  const handler = (d: Buffer, h: string, p: number): void => {
    got.push({ index: d.readUInt32BE(0), length: d.length, from: `${h}:${p}` });
  };
  let expected = 0;
  try {
    receiver.on('message', (msg, rinfo) => {
      handler(msg, rinfo.address, rinfo.port);
      drain.drain(handler);
    });
    // Sent in one go, without yielding: the datagrams queue up on the receiving socket.
    const sent: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const size = i % 50 === 49 ? 3000 : 20 + (i % 200);
      const d = Buffer.alloc(size, i & 0xff);
      d.writeUInt32BE(i, 0);
      const sender = senders[i % 2];
      sent.push(new Promise<void>((resolve) => sender.send(d, receiver.address().port, host, () => resolve())));
      expected++;
    }
    await Promise.all(sent);
    const deadline = Date.now() + 3000;
    while (got.length + drain.stats.truncated < expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const ports = senders.map((s) => `${host}:${s.address().port}`);
    for (const g of got) {
      assert.equal(g.from, ports[g.index % 2], `source of ${g.index}`);
    }
    return { got, drain, expected };
  } finally {
    receiver.close();
    senders.forEach((s) => s.close());
  }
}

describe('DatagramDrain', () => {
  it('does nothing without the addon: dgram delivers everything', async () => {
    const { got, drain } = await burst(nodeSocketIo, 200);
    assert.equal(drain.stats.drained, 0);
    assert.equal(got.length, 200);
    assert.deepEqual(got.map((g) => g.index), [...Array(200).keys()]);
  });

  it('reads queued datagrams with recvmmsg, same order, sources and bytes; drops what does not fit a slot', { skip }, async () => {
    const io = nativeIo();
    const { got, drain, expected } = await burst(io, 400);
    const long = [...Array(expected).keys()].filter((i) => i % 50 === 49);
    assert.ok(drain.stats.drained > 0, 'a burst is drained by recvmmsg');
    // A too-long datagram either came through dgram (whole) or was dropped by the drain.
    const received = got.map((g) => g.index);
    const expectedOrder = [...Array(expected).keys()].filter((i) => received.includes(i) || !long.includes(i));
    assert.deepEqual(received, expectedOrder);
    assert.equal(got.length + drain.stats.truncated, expected);
    for (const g of got) {
      assert.equal(g.length, g.index % 50 === 49 ? 3000 : 20 + (g.index % 200));
    }
  });

  it('works on IPv6 sockets', { skip }, async (t) => {
    try {
      (await bound('udp6', '::1')).close();
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    const { got, drain, expected } = await burst(nativeIo(), 100, 'udp6', '::1');
    assert.equal(got.length + drain.stats.truncated, expected);
  });
});
