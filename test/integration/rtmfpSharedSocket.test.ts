/**
 * The load generator's light RTMFP mode (bench/lib/playerProcess.ts): many RtmfpClients on one
 * UDP socket, demultiplexed by session ID, with delayed acks. What they receive must be exactly
 * what was published, as with one socket per client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { RtmfpClientSocket } from '../../src/client/rtmfp/RtmfpClientSocket.js';
import type { Server } from '../../src/Server.js';
import { sleep } from '../helpers/inProcess.js';
import { startRtmfpServer } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

const until = async (cond: () => boolean, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(10);
  }
};

for (const workers of ['0', '2']) {
  describe(`RTMFP clients sharing one UDP socket, RTMFP.workers=${workers}`, { timeout: 60_000 }, () => {
    let server: Server;
    let rtmfpUrl: (path: string) => string;
    let rtmpUrl: (path: string) => string;
    let shared: RtmfpClientSocket;

    before(async () => {
      const started = await startRtmfpServer({ 'RTMFP.workers': workers });
      server = started.server;
      rtmpUrl = started.rtmp;
      rtmfpUrl = started.rtmfp;
      shared = await RtmfpClientSocket.open();
    });

    after(async () => {
      shared.close();
      await server.stop();
    });

    it('six clients on one socket with delayed acks each get every frame byte-exact, and one leaving does not disturb the others', async () => {
      const publisher = new RtmpClient();
      await publisher.connect(rtmpUrl('live'));
      const id = await publisher.publish('shared');
      const received: Buffer[][] = [];
      const players = Array.from({ length: 6 }, (_, k) => {
        received.push([]);
        return new RtmfpClient({ socket: shared, delayedAcks: true, onMedia: (type, _t, payload) => type === 9 && received[k].push(Buffer.from(payload)) });
      });
      for (const player of players) {
        await player.connect(rtmfpUrl('live'));
        await player.play('shared');
      }
      assert.equal(shared.size, 6);
      assert.equal(new Set(players.map((p) => p.peerId)).size, 6, 'six sessions');
      publisher.writeMedia(id, 9, 0, avcSequenceHeader);
      publisher.writeMedia(id, 8, 0, aacSequenceHeader);
      const sent: Buffer[] = [avcSequenceHeader];
      const send = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i++) {
          // Keyframes span several packets (runs of datagrams to one session).
          const frame = videoFrame(i % 10 === 0, i, i % 10 === 0 ? 9000 : 900);
          sent.push(frame);
          publisher.writeMedia(id, 9, i * 40, frame);
          publisher.writeMedia(id, 8, i * 40, audioFrame(i));
          await sleep(4);
        }
      };
      await send(0, 30);
      await until(() => received.every((r) => r.length >= sent.length), 10_000, 'all frames to all six');
      players[2].close();
      await until(() => shared.size === 5, 3000, 'the closed client leaves the socket');
      await send(30, 50);
      await until(() => received.every((r, k) => k === 2 || r.length >= sent.length), 10_000, 'frames after one left');
      received.forEach((r, k) => {
        const expected = k === 2 ? sent.slice(0, r.length) : sent;
        assert.deepEqual(r.map((b) => b.toString('hex')), expected.map((b) => b.toString('hex')), `player ${k}`);
      });
      await assert.rejects(async () => players[0].rebind(), /shared socket/);
      publisher.close();
      players.forEach((p, k) => k !== 2 && p.close());
      await until(() => server.core.clients.size === 0, 5000, 'clients gone');
    });
  });
}
