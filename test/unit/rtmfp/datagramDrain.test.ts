/**
 * DatagramDrain: what recvmmsg reads after dgram's first datagram must be the same datagrams, in
 * the same order, from the same sources, as dgram alone would deliver.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { platform } from 'node:os';
import { describe, it } from 'node:test';
import { NativeSocketIo, RTMFP_CONTENT_OFFSET, type SocketIo, TsKernels, nodeSocketIo } from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { DatagramDrain } from '../../../src/protocols/rtmfp/DatagramDrain.js';
import { readSessionId } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import { Logger } from '../../../src/util/Logger.js';
import { nativeKernels, nativeSkip } from '../kernels/kernelsTestKit.js';

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

  for (const which of ['ts', 'native'] as const) {
    it(`opens the datagrams of known sessions in one decryptPackets call (${which} kernels), leaves the others unopened`, { skip }, async () => {
      const kernels = which === 'ts' ? new TsKernels() : nativeKernels!;
      const key = kernels.createPacketKey(Buffer.alloc(16, 3));
      const receiver = await bound();
      const sender = await bound();
      const known = 0x01000042;
      const drain = new DatagramDrain(receiver, nativeIo(), new Logger('test'), kernels, (ssid) => (ssid === known ? key : null));
      const got: { index: number; opened: number | undefined; ok: boolean }[] = [];
      const handle = (d: Buffer, _h: string, _p: number, opened?: number, ssid?: number): void => {
        // The session ID is read before opening (afterwards the bytes it depends on are plaintext).
        assert.equal(ssid, opened === undefined ? undefined : known);
        if (opened === undefined) {
          got.push({ index: -1, opened, ok: true });
          return;
        }
        got.push({ index: opened > 0 ? d.readUInt32BE(RTMFP_CONTENT_OFFSET) : -2, opened, ok: opened === d.length - 4 });
      };
      try {
        receiver.on('message', (msg, rinfo) => {
          // dgram's own datagram: opened by the caller, as the data plane does.
          const isKnown = readSessionId(msg, 0) === known;
          handle(msg, rinfo.address, rinfo.port, isKnown ? kernels.decryptPacket(key, msg, 0, msg.length, msg, 4) : undefined, isKnown ? known : undefined);
          drain.drain(handle);
        });
        const sent: Promise<void>[] = [];
        for (let i = 0; i < 150; i++) {
          const buf = Buffer.alloc(1300);
          buf.writeUInt32BE(i, RTMFP_CONTENT_OFFSET);
          const n = kernels.encryptPacket(key, i % 10 === 9 ? 0x0bad : known, buf, RTMFP_CONTENT_OFFSET + 4 + (i % 300), buf, 0);
          sent.push(new Promise<void>((resolve) => sender.send(buf.subarray(0, n), receiver.address().port, '127.0.0.1', () => resolve())));
        }
        await Promise.all(sent);
        const deadline = Date.now() + 3000;
        while (got.length < 150 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(got.length, 150);
        assert.ok(drain.stats.drained > 0);
        // Known session: opened, in order; unknown session (0x0bad): handed over unopened.
        const opened = got.filter((g) => g.opened !== undefined);
        assert.ok(opened.every((g) => g.ok), 'opened in place with the right length');
        assert.deepEqual(opened.map((g) => g.index), [...Array(150).keys()].filter((i) => i % 10 !== 9));
        assert.equal(got.filter((g) => g.opened === undefined).length, 15);
      } finally {
        receiver.close();
        sender.close();
      }
    });
  }
});
