import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { TsKernels } from '../../src/kernels/ts/TsKernels.js';
import { DEFAULT_KEY } from '../../src/protocols/rtmfp/RtmfpPacket.js';
import { sleep } from '../helpers/inProcess.js';
import { LossyProxy } from '../helpers/lossyProxy.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { audioFrame, videoFrame } from '../helpers/synthetic.js';

const kernels = new TsKernels();
const defaultKey = kernels.createPacketKey(DEFAULT_KEY);

describe('RTMFP under loss and bad input', { timeout: 120_000 }, () => {
  let s: RtmfpTestServer;

  before(async () => {
    s = await startRtmfpServer();
  });

  after(async () => {
    await s.server.stop();
  });

  it('keeps reliable messages complete and in order and media flowing through 10% loss, duplication and reordering', async () => {
    const proxy = new LossyProxy({ host: '127.0.0.1', port: s.port }, 0.1, 4242);
    const proxyPort = await proxy.start();
    const url = (path: string): string => `rtmfp://127.0.0.1:${proxyPort}/${path}`;
    const publisher = new RtmfpClient();
    await publisher.connect(url('live'));
    const id = await publisher.publish('lossy');
    const video: number[] = [];
    const player = new RtmfpClient({ onMedia: (type, _t, p) => type === 9 && p[1] === 1 && video.push(p.readUInt32BE(5)) });
    await player.connect(url('live'));
    await player.play('lossy');
    // Reliable RPC round trips, many of them, all complete and in order.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => player.call('nothere', null, i).catch((e: Error) => e.message)));
    assert.equal(results.length, 40);
    assert.ok(results.every((r) => typeof r === 'string' && r.includes('Call.Failed')));
    for (let i = 0; i < 150; i++) {
      publisher.writeMedia(id, 9, i * 40, videoFrame(i % 25 === 0, i, i % 25 === 0 ? 4000 : 600));
      publisher.writeMedia(id, 8, i * 40, audioFrame(i));
      await sleep(8);
    }
    await sleep(1500);
    assert.ok(video.length > 60, `media keeps flowing (${video.length} of 150 video frames)`);
    for (let i = 1; i < video.length; i++) {
      assert.ok(video[i] > video[i - 1], 'frames arrive in order, never twice');
    }
    assert.equal(publisher.closed || player.closed, false, 'sessions survive');
    assert.ok(proxy.dropped > 0 && proxy.duplicated > 0 && proxy.delayed > 0, 'the proxy really interfered');
    publisher.close();
    player.close();
    proxy.close();
  });

  it('drops garbage, bad checksums, forged session IDs and stale or forged cookies, and healthy sessions carry on', async () => {
    const healthy = new RtmfpClient();
    await healthy.connect(s.rtmfp('live'));
    const attacker = createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
    const send = (b: Buffer): void => {
      attacker.send(b, s.port, '127.0.0.1');
    };
    const stats = s.server.rtmfp!.stats;
    const hs = s.server.rtmfp!.handshake.stats;
    const before = { datagrams: stats.datagrams, unknown: stats.unknownSession };
    for (let i = 0; i < 200; i++) {
      send(randomBytes(1 + (i % 300)));
    }
    // Right length, session ID 0, default-key encryption, broken checksum.
    const startup = Buffer.alloc(36);
    startup.fill(0x0b, 6);
    kernels.encryptPacket(defaultKey, 0, startup, 30, startup, 0);
    startup[20] ^= 0xff;
    send(startup);
    // A forged session ID: random bytes addressed to a session that does not exist.
    for (let i = 0; i < 50; i++) {
      send(randomBytes(64));
    }
    // A live session's ID with garbage content (wrong key): dropped by that session, counted.
    const session = [...s.server.rtmfp!.sessions.values()][0];
    const forged = Buffer.alloc(48);
    kernels.encryptPacket(kernels.createPacketKey(randomBytes(16)), session.keys.localSsid, Buffer.alloc(48, 0x89), 30, forged, 0);
    send(forged);
    await sleep(300);
    assert.ok(stats.datagrams - before.datagrams >= 250, 'every datagram was seen');
    assert.ok(stats.unknownSession > before.unknown, 'forged session IDs counted');
    assert.ok(hs.badDatagram > 0, 'bad startup packets counted');
    assert.ok(session.input.stats.badChecksum > 0, 'the target session dropped the forged packet');
    assert.deepEqual(await healthy.call('nothere').catch((e: Error) => e.message.includes('Call.Failed')), true, 'the healthy session still works');
    attacker.close();
    healthy.close();
  });

  it('survives an IHello flood with bounded handshake state', async () => {
    const attacker = createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
    const { ihelloDatagram } = await import('../unit/rtmfp/rtmfpTestKit.js');
    const hs = s.server.rtmfp!.handshake;
    const rhelloBefore = hs.stats.rhello;
    const answersBefore = hs.answersKept;
    for (let i = 0; i < 3000; i++) {
      attacker.send(ihelloDatagram(`rtmfp://127.0.0.1:${s.port}/live`, randomBytes(16)), s.port, '127.0.0.1');
      if (i % 200 === 0) {
        await sleep(5);
      }
    }
    await sleep(500);
    // The kernel may drop part of an unpaced flood; what arrives is answered without keeping state.
    assert.ok(hs.stats.rhello - rhelloBefore > 100, `IHellos are answered (${hs.stats.rhello - rhelloBefore})`);
    assert.equal(hs.answersKept, answersBefore, 'no state kept per IHello');
    const healthy = new RtmfpClient();
    await healthy.connect(s.rtmfp('live'));
    healthy.close();
    attacker.close();
  });

  it('moves a session to a new address (mobility) and closes idle sessions', async () => {
    const moving = new RtmfpClient();
    await moving.connect(s.rtmfp('live'));
    const before = [...s.server.core.clients.values()].find((c) => c.id === moving.peerId)!.address;
    await moving.rebind();
    assert.deepEqual(await moving.call('nothere').catch((e: Error) => e.message.includes('Call.Failed')), true, 'the session works from the new port');
    const after = [...s.server.core.clients.values()].find((c) => c.id === moving.peerId)!.address;
    assert.notEqual(after, before);
    assert.equal(after, `127.0.0.1:${moving.port}`);
    moving.close();
    const quick = await startRtmfpServer({ 'RTMFP.timeout': '1' });
    const client = new RtmfpClient();
    await client.connect(quick.rtmfp('live'));
    assert.equal(quick.server.core.clients.size, 1);
    // Silence: the client's keepalive is 15 s, the server's timeout 1 s.
    (client as unknown as { timer: NodeJS.Timeout }).timer.unref();
    clearInterval((client as unknown as { timer: NodeJS.Timeout }).timer);
    await until(() => quick.server.core.clients.size === 0, 5000, 'idle session closed');
    client.close();
    await quick.server.stop();
  });
});
