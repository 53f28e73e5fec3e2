import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { sleep } from '../helpers/inProcess.js';
import { startRtmfpServer } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

const until = async (cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(10);
  }
};

for (const workers of ['0', '2']) {describe(`RTMFP sessions, RTMFP.workers=${workers}`, { timeout: 60_000 }, () => {
  let server: Server;
  let rtmfpUrl: (path: string) => string;
  let rtmpUrl: (path: string) => string;

  before(async () => {
    const started = await startRtmfpServer({ 'RTMFP.workers': workers });
    server = started.server;
    rtmpUrl = started.rtmp;
    rtmfpUrl = started.rtmfp;
  });

  after(async () => {
    await server.stop();
  });

  it('connects through the handshake and the onConnection hook', async () => {
    const client = new RtmfpClient();
    const info = await client.connect(rtmfpUrl('live?token=1'));
    assert.equal(info.code, 'NetConnection.Connect.Success');
    const c = [...server.core.clients.values()].find((x) => x.protocol === 'RTMFP')!;
    assert.equal(c.id, client.peerId, 'the client ID is the peer ID');
    assert.equal(c.path, '/live');
    assert.equal(c.properties.token, '1');
    client.close();
    await until(() => server.core.clients.size === 0, 3000, 'client removed');
  });

  it('publishes over RTMFP and plays over RTMFP and RTMP, payloads intact', async () => {
    const publisher = new RtmfpClient();
    await publisher.connect(rtmfpUrl('live'));
    const id = await publisher.publish('cross');
    const fromRtmfp: Buffer[] = [];
    const rtmfpPlayer = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && fromRtmfp.push(Buffer.from(payload)) });
    await rtmfpPlayer.connect(rtmfpUrl('live'));
    await rtmfpPlayer.play('cross');
    const fromRtmp: Buffer[] = [];
    const rtmpPlayer = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && fromRtmp.push(Buffer.from(payload)) });
    await rtmpPlayer.connect(rtmpUrl('live'));
    await rtmpPlayer.play('cross');
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    publisher.writeMedia(id, 8, 0, aacSequenceHeader);
    const sent: Buffer[] = [avcSequenceHeader];
    for (let i = 0; i < 30; i++) {
      const frame = videoFrame(i % 10 === 0, i, i % 10 === 0 ? 5000 : 800);
      sent.push(frame);
      publisher.writeMedia(id, 9, i * 40, frame);
      publisher.writeMedia(id, 8, i * 40, audioFrame(i));
      await sleep(5);
    }
    await until(() => fromRtmfp.length >= sent.length && fromRtmp.length >= sent.length, 10_000, 'all frames');
    assert.deepEqual(fromRtmfp.map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')));
    assert.deepEqual(fromRtmp.map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')));
    publisher.close();
    await rtmfpPlayer.waitStatus(1, ['NetStream.Play.UnpublishNotify']);
    rtmfpPlayer.close();
    rtmpPlayer.close();
  });

  it('plays over RTMFP what an RTMP client publishes', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(rtmpUrl('live'));
    const id = await publisher.publish('fromrtmp');
    const got: Buffer[] = [];
    const player = new RtmfpClient({ onMedia: (type, _t, payload) => type === 8 && got.push(Buffer.from(payload)) });
    await player.connect(rtmfpUrl('live'));
    await player.play('fromrtmp');
    for (let i = 0; i < 20; i++) {
      publisher.writeMedia(id, 8, i * 23, audioFrame(i));
    }
    await until(() => got.length >= 20, 5000, 'audio frames');
    got.forEach((b, i) => assert.ok(b.equals(audioFrame(i))));
    publisher.close();
    player.close();
  });

  it('routes calls to the application and answers Call.Failed for unknown methods', async () => {
    const client = new RtmfpClient();
    await client.connect(rtmfpUrl('live'));
    await assert.rejects(client.call('nothere'), /NetConnection.Call.Failed/);
    client.close();
  });
});}
