/**
 * The socket calls of the native addon (sendmmsg with and without UDP segmentation) on real
 * loopback sockets, the address table encoding, and the dgram internals they rely on.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { platform } from 'node:os';
import { describe, it } from 'node:test';
import {
  NativeSocketIo, UDP_ADDRESS_ENTRY_SIZE, encodeUdpAddress, nodeSocketIo, udpHandleOf,
} from '../../../src/kernels/index.js';
import { loadNativeAddon } from '../../../src/kernels/native/nativeAddon.js';
import { nativeSkip } from './kernelsTestKit.js';

const linuxSkip: string | false = nativeSkip !== false ? nativeSkip : platform() !== 'linux' ? 'sendmmsg is Linux only' : false;

const bound = async (type: 'udp4' | 'udp6', host: string): Promise<Socket> => {
  // Room for a whole test burst: loopback delivers faster than the test reads.
  const socket = createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return socket;
};

/** Collects datagrams until `count` arrived or `ms` passed. */
const collect = (socket: Socket, count: number, ms = 3000): Promise<Buffer[]> =>
  new Promise((resolve) => {
    const got: Buffer[] = [];
    const timer = setTimeout(() => resolve(got), ms);
    socket.on('message', (msg) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });

interface Table {
  data: Buffer;
  offsets: Uint32Array;
  addresses: Buffer;
  count: number;
}

/** Datagrams of the given sizes (each filled with its index) to the given ports, back to back. */
const table = (sizes: number[], ports: number[], host = '127.0.0.1'): Table => {
  const total = sizes.reduce((a, b) => a + b, 0);
  const data = Buffer.alloc(total);
  const offsets = new Uint32Array(sizes.length + 1);
  const addresses = Buffer.alloc(sizes.length * UDP_ADDRESS_ENTRY_SIZE);
  let at = 0;
  sizes.forEach((size, i) => {
    data.fill(i & 0xff, at, at + size);
    data.writeUInt16BE(i, at);
    offsets[i] = at;
    at += size;
    assert.ok(encodeUdpAddress(host, ports[i], addresses, i * UDP_ADDRESS_ENTRY_SIZE));
  });
  offsets[sizes.length] = at;
  return { data, offsets, addresses, count: sizes.length };
};

const native = (segmentation: boolean): NativeSocketIo => {
  const loaded = loadNativeAddon();
  assert.ok(loaded.addon !== null, loaded.addon === null ? loaded.reason : '');
  return new NativeSocketIo(loaded.addon, segmentation);
};

describe('encodeUdpAddress', () => {
  const hex = (host: string, port = 1935): string | null => {
    const out = Buffer.alloc(UDP_ADDRESS_ENTRY_SIZE);
    return encodeUdpAddress(host, port, out, 0) ? out.toString('hex') : null;
  };
  it('encodes IPv4 and IPv6 literals with the port big-endian', () => {
    assert.equal(hex('127.0.0.1', 0x1234), '040012347f000001000000000000000000000000');
    assert.equal(hex('::1'), '0600078f00000000000000000000000000000001');
    assert.equal(hex('::'), '0600078f00000000000000000000000000000000');
    assert.equal(hex('2001:db8::7'), '0600078f20010db8000000000000000000000007');
    assert.equal(hex('1:2:3:4:5:6:7:8'), '0600078f00010002000300040005000600070008');
    assert.equal(hex('fe80::1:2'), '0600078ffe800000000000000000000000010002');
  });
  it('encodes IPv4-mapped and dotted-tail IPv6', () => {
    assert.equal(hex('::ffff:127.0.0.1'), '0600078f00000000000000000000ffff7f000001');
    assert.equal(hex('a::b:1.2.3.4'), '0600078f000a0000000000000000000b01020304');
  });
  it('refuses names and zone indexes (those go through dgram)', () => {
    assert.equal(hex('localhost'), null);
    assert.equal(hex('fe80::1%eth0'), null);
    assert.equal(hex(''), null);
  });
});

describe('kernelHasUdpSegmentation', () => {
  it('asks UDP_SEGMENT only of Linux 4.18 and later', async () => {
    const { kernelHasUdpSegmentation } = await import('../../../src/kernels/native/NativeSocketIo.js');
    assert.equal(kernelHasUdpSegmentation('6.18.44-fc-v669'), true);
    assert.equal(kernelHasUdpSegmentation('4.18.0-553.el8'), true);
    assert.equal(kernelHasUdpSegmentation('5.4.0'), true);
    assert.equal(kernelHasUdpSegmentation('4.15.0-generic'), false);
    assert.equal(kernelHasUdpSegmentation('3.10.0-1160.el7'), false);
    assert.equal(kernelHasUdpSegmentation('unknown'), false);
  });
});

describe('udpHandleOf', () => {
  it('finds the descriptor and libuv send queue of a bound socket', async () => {
    const socket = await bound('udp4', '127.0.0.1');
    try {
      const handle = udpHandleOf(socket);
      assert.ok(handle !== null);
      assert.ok(handle.fd > 2);
      assert.equal(handle.sendQueueCount(), 0);
    } finally {
      socket.close();
    }
  });
  it('the Node fallback sends nothing itself', () => {
    assert.equal(nodeSocketIo.batchedUdp, false);
    assert.equal(nodeSocketIo.sendDatagrams(0, Buffer.alloc(0), new Uint32Array(1), Buffer.alloc(0), 0), 0);
  });
});

describe('sendDatagrams (native, sendmmsg)', { skip: linuxSkip }, () => {
  for (const segmentation of [false, true]) {
    it(`delivers every datagram, in order per destination, byte-exact (UDP segmentation ${segmentation ? 'on' : 'off'})`, async () => {
      const sender = await bound('udp4', '127.0.0.1');
      const a = await bound('udp4', '127.0.0.1');
      const b = await bound('udp4', '127.0.0.1');
      try {
        const io = native(segmentation);
        // Runs to one destination (equal sizes, a shorter last one, a longer one breaking the
        // run), alternations, and more than one sendmmsg batch (64 messages) in all.
        const sizes: number[] = [];
        const ports: number[] = [];
        const pa = a.address().port;
        const pb = b.address().port;
        for (let r = 0; r < 24; r++) {
          const n = 1 + (r % 7);
          for (let k = 0; k < n; k++) {
            sizes.push(k === n - 1 && r % 2 === 0 ? 100 + r : k === 2 && r % 3 === 0 ? 1188 : 1172);
            ports.push(r % 3 === 1 ? pb : pa);
          }
        }
        const t = table(sizes, ports);
        const expectA = sizes.map((_, i) => i).filter((i) => ports[i] === pa);
        const expectB = sizes.map((_, i) => i).filter((i) => ports[i] === pb);
        const gotA = collect(a, expectA.length);
        const gotB = collect(b, expectB.length);
        const handle = udpHandleOf(sender);
        assert.ok(handle !== null);
        const handled = io.sendDatagrams(handle.fd, t.data, t.offsets, t.addresses, t.count);
        assert.equal(handled, t.count);
        for (const [got, expected] of [[await gotA, expectA], [await gotB, expectB]] as const) {
          assert.deepEqual(got.map((d) => d.readUInt16BE(0)), expected);
          got.forEach((d, k) => {
            const i = expected[k];
            assert.ok(d.equals(t.data.subarray(t.offsets[i], t.offsets[i + 1])), `datagram ${i}`);
          });
        }
      } finally {
        sender.close();
        a.close();
        b.close();
      }
    });
  }

  it('skips a malformed address entry and sends the rest', async () => {
    const sender = await bound('udp4', '127.0.0.1');
    const receiver = await bound('udp4', '127.0.0.1');
    try {
      const port = receiver.address().port;
      const t = table([50, 60, 70], [port, port, port]);
      t.addresses[UDP_ADDRESS_ENTRY_SIZE] = 9; // not a family
      const got = collect(receiver, 2);
      const handle = udpHandleOf(sender)!;
      assert.equal(native(true).sendDatagrams(handle.fd, t.data, t.offsets, t.addresses, t.count), 3);
      assert.deepEqual((await got).map((d) => d.length), [50, 70]);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('drops a datagram of the wrong family for the socket (as the network would) and goes on', async () => {
    const sender = await bound('udp4', '127.0.0.1');
    const receiver = await bound('udp4', '127.0.0.1');
    try {
      const port = receiver.address().port;
      const t = table([50, 60], [port, port]);
      assert.ok(encodeUdpAddress('::1', port, t.addresses, 0));
      const got = collect(receiver, 1);
      const handle = udpHandleOf(sender)!;
      assert.equal(native(false).sendDatagrams(handle.fd, t.data, t.offsets, t.addresses, t.count), 2);
      assert.deepEqual((await got).map((d) => d.length), [60]);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('works on IPv6 sockets', async (t) => {
    let sender: Socket;
    try {
      sender = await bound('udp6', '::1');
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    const receiver = await bound('udp6', '::1');
    try {
      const port = receiver.address().port;
      const tab = table([1188, 1188, 500], [port, port, port], '::1');
      const got = collect(receiver, 3);
      assert.equal(native(true).sendDatagrams(udpHandleOf(sender)!.fd, tab.data, tab.offsets, tab.addresses, tab.count), 3);
      assert.deepEqual((await got).map((d) => d.length), [1188, 1188, 500]);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('reports an unusable descriptor as -errno and checks its arguments', () => {
    const io = native(true);
    const t = table([10], [9]);
    assert.ok(io.sendDatagrams(1_000_000, t.data, t.offsets, t.addresses, 1) < 0);
    assert.throws(() => io.sendDatagrams(3, t.data, t.offsets, t.addresses, 2), RangeError);
    const bad = new Uint32Array([0, 999]);
    assert.throws(() => io.sendDatagrams(3, t.data, bad, t.addresses, 1), RangeError);
  });
});
