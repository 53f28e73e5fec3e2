/**
 * Every core serves media (issue 11): RTMP and RTMFP sessions on media workers, in both thread
 * modes. With `workers = 2` the publisher and its players sit on different workers (the least
 * loaded one takes each new session), so every frame crosses threads: ffmpeg to ffmpeg byte for
 * byte, RTMP to RTMFP and back, late joiners from a keyframe, a slow player dropped and closed on
 * its own worker, a worker killed mid-stream, hooks in the same order as on one thread, and an
 * RTMFP player on its publisher's worker served there without the main thread.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Client } from '../../src/core/Client.js';
import type { Listener } from '../../src/core/Listener.js';
import type { Publication } from '../../src/core/Publication.js';
import { DefaultHooks } from '../../src/core/ServerHooks.js';
import { loadSocketHandover } from '../../src/kernels/index.js';
import type { ToWorker } from '../../src/protocols/worker/MediaChannel.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPlay, ffmpegPublish, hasFfmpeg, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { mediaTags, readFlv } from '../helpers/flv.js';
import { logLines, sleep, waitForLog } from '../helpers/inProcess.js';
import { startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, publishSynthetic, videoFrame } from '../helpers/synthetic.js';

const handover = typeof loadSocketHandover() !== 'string';

/** Hooks that record their calls, in order. */
class RecordingHooks extends DefaultHooks {
  readonly calls: string[] = [];
  override onConnection(client: Client): undefined {
    this.calls.push(`connect ${client.protocol}`);
    return undefined;
  }
  override onDisconnection(client: Client): void {
    this.calls.push(`disconnect ${client.protocol}`);
  }
  override onPublish(_client: Client, publication: Publication): void {
    this.calls.push(`publish ${publication.name}`);
  }
  override onUnpublish(_client: Client, publication: Publication): void {
    this.calls.push(`unpublish ${publication.name}`);
  }
  override onSubscribe(_client: Client, listener: Listener): void {
    this.calls.push(`subscribe ${listener.publication.name}`);
  }
  override onUnsubscribe(_client: Client, listener: Listener): void {
    this.calls.push(`unsubscribe ${listener.publication.name}`);
  }
}

/** Which media worker serves each RTMP session (sid → worker index), empty with workers = 0. */
const rtmpWorkerOf = (server: Server): Map<number, number> => {
  const where = new Map<number, number>();
  for (const handle of server.workers?.handles ?? []) {
    for (const sid of handle.rtmpSids) {
      where.set(sid, handle.index);
    }
  }
  return where;
};

/** The session ID of `client` on `server` (found by the client's own port). */
const sidOf = (server: Server, client: RtmpClient): number => {
  const address = `127.0.0.1:${client.socket!.localPort}`;
  return [...server.rtmp!.sessions].find(([, s]) => s.client.address === address)![0];
};

for (const workers of ['0', '2']) {
  describe(`media workers: RTMP.workers=${workers}, RTMFP.workers=${workers}`, { timeout: 120_000, skip: workers !== '0' && !handover ? 'no socket handover without the native addon' : false }, () => {
    let server: Server;
    let rtmp: (path: string) => string;
    let rtmfp: (path: string) => string;
    const hooks = new RecordingHooks();

    before(async () => {
      ({ server, rtmp, rtmfp } = await startRtmfpServer(
        { 'RTMP.workers': workers, 'RTMFP.workers': workers, 'media.subscriberQueueBytes': '65536', 'media.subscriberTimeout': '1' },
        hooks,
      ));
    });

    after(async () => {
      await server.stop();
    });

    it('ffmpeg publishes and ffmpeg plays, byte for byte, the publisher and the players on different workers', { skip: !hasFfmpeg() }, async () => {
      const dir = tempDir();
      const source = makeTestFlv(join(dir, 'source.flv'), 3, 25);
      const outs = [join(dir, 'a.flv'), join(dir, 'b.flv')];
      const players = outs.map((out) => ffmpegPlay(rtmp('live/ff'), out));
      await until(() => [...server.core.publications.values()].some((p) => p.name === 'ff' && p.listeners.size === 2), 10_000, 'two players');
      const publisher = ffmpegPublish(source, rtmp('live/ff'), false);
      await waitForLog(/publication ff started/);
      if (workers !== '0') {
        const where = new Set(rtmpWorkerOf(server).values());
        assert.equal(where.size, 2, 'sessions on both workers');
        assert.equal(server.rtmp!.localCount, 0, 'no RTMP session left on the main thread');
      }
      assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
      const sent = mediaTags(readFlv(source));
      for (const [i, player] of players.entries()) {
        assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
        const got = mediaTags(readFlv(outs[i]));
        assert.equal(got.length, sent.length, `player ${i}: every audio and video tag`);
        got.forEach((t, k) => assert.ok(t.payload.equals(sent[k].payload), `player ${i}, tag ${k} bytes`));
      }
    });

    it('carries RTMP to RTMFP and RTMFP to RTMP, and starts a late joiner at a keyframe', async () => {
      const rtmpPublisher = new RtmpClient();
      await rtmpPublisher.connect(rtmp('live'));
      const id = await rtmpPublisher.publish('r2f');
      const fromRtmp: Buffer[] = [];
      const rtmfpPlayer = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && fromRtmp.push(Buffer.from(payload)) });
      await rtmfpPlayer.connect(rtmfp('live'));
      await rtmfpPlayer.play('r2f');
      rtmpPublisher.writeMedia(id, 9, 0, avcSequenceHeader);
      rtmpPublisher.writeMedia(id, 8, 0, aacSequenceHeader);
      const sent: Buffer[] = [];
      for (let i = 0; i < 30; i++) {
        sent.push(videoFrame(i % 10 === 0, i, 3000));
        rtmpPublisher.writeMedia(id, 9, i * 40, sent[i]);
        rtmpPublisher.writeMedia(id, 8, i * 40, audioFrame(i));
        await sleep(3);
      }
      await until(() => fromRtmp.length === 31, 10_000, `RTMFP player got ${fromRtmp.length}/31`);
      assert.deepEqual(fromRtmp.slice(1), sent);
      // A late RTMP player: metadata-less stream, the cache starts it at the keyframe of frame 20.
      const late: Buffer[] = [];
      const latePlayer = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && late.push(Buffer.from(payload)) });
      await latePlayer.connect(rtmp('live'));
      await latePlayer.play('r2f');
      await until(() => late.length >= 11, 5000, 'late joiner gets the GOP');
      assert.ok(late[0].equals(avcSequenceHeader));
      assert.deepEqual(late.slice(1, 11), sent.slice(20));

      const rtmfpPublisher = new RtmfpClient();
      await rtmfpPublisher.connect(rtmfp('live'));
      const fid = await rtmfpPublisher.publish('f2r');
      const fromRtmfp: Buffer[] = [];
      const rtmpPlayer = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && fromRtmfp.push(Buffer.from(payload)) });
      await rtmpPlayer.connect(rtmp('live'));
      await rtmpPlayer.play('f2r');
      rtmfpPublisher.writeMedia(fid, 9, 0, avcSequenceHeader);
      for (let i = 0; i < 20; i++) {
        rtmfpPublisher.writeMedia(fid, 9, i * 40, sent[i]);
        await sleep(3);
      }
      await until(() => fromRtmfp.length === 21, 10_000, `RTMP player got ${fromRtmfp.length}/21`);
      assert.deepEqual(fromRtmfp.slice(1), sent.slice(0, 20));
      for (const c of [rtmpPublisher, rtmfpPlayer, latePlayer, rtmfpPublisher, rtmpPlayer]) {
        c.close();
      }
    });

    it('drops a player that never reads to the keyframe and closes it on its worker, the others keep receiving', async () => {
      const publisher = new RtmpClient();
      await publisher.connect(rtmp('live'));
      const id = await publisher.publish('slow');
      const stalled = new RtmpClient({ polite: false });
      await stalled.connect(rtmp('live'));
      await stalled.play('slow');
      stalled.socket!.pause();
      let good = 0;
      const player = new RtmpClient({ onMedia: (type) => type === 9 && good++ });
      await player.connect(rtmp('live'));
      await player.play('slow');
      const source = publishSynthetic(publisher, id, { videoSize: 60_000, intervalMs: 10, maxFrames: 1500 });
      await waitForLog(/session closed: subscriber too slow/, 20_000);
      const seen = good;
      await sleep(300);
      assert.ok(good > seen, 'the reading player keeps receiving');
      source.stop();
      for (const c of [publisher, stalled, player]) {
        c.close();
      }
    });

    it('closes only the sessions of a worker that dies mid-stream, and replaces it', { skip: workers === '0' }, async () => {
      const publisher = new RtmpClient();
      await publisher.connect(rtmp('live'));
      const id = await publisher.publish('crash');
      const counts = [0, 0, 0];
      const players = counts.map((_, i) => new RtmpClient({ onMedia: (type) => type === 9 && counts[i]++ }));
      for (const p of players) {
        await p.connect(rtmp('live'));
        await p.play('crash');
      }
      const source = publishSynthetic(publisher, id, { intervalMs: 20, maxFrames: 2000 });
      await until(() => counts.every((c) => c > 5), 5000, 'everyone plays');
      const where = rtmpWorkerOf(server);
      const workerOf = (c: RtmpClient): number | undefined => where.get(sidOf(server, c));
      const victim = server.workers!.handles.find((h) => h.index !== workerOf(publisher))!;
      const lost = players.filter((p) => workerOf(p) === victim.index);
      const kept = players.filter((p) => !lost.includes(p));
      assert.ok(lost.length > 0 && kept.length > 0, 'players on both workers');
      await victim.worker.terminate();
      await until(() => lost.every((p) => p.closed), 5000, 'the dead worker\'s players are closed');
      const before = kept.map((p) => counts[players.indexOf(p)]);
      await sleep(300);
      kept.forEach((p, i) => assert.ok(counts[players.indexOf(p)] > before[i], 'a player on the other worker keeps receiving'));
      await until(() => server.workers!.handles.length === 2, 10_000, 'worker replaced');
      let again = 0;
      const newcomer = new RtmpClient({ onMedia: (type) => type === 9 && again++ });
      await newcomer.connect(rtmp('live'));
      await newcomer.play('crash');
      await until(() => again > 5, 5000, 'a new player is served');
      source.stop();
      for (const c of [publisher, ...players, newcomer]) {
        c.close();
      }
    });

    it('calls the hooks in the same order as on one thread', async () => {
      await until(() => server.core.clients.size === 0, 5000, 'earlier clients gone');
      hooks.calls.length = 0;
      const publisher = new RtmpClient();
      await publisher.connect(rtmp('live'));
      const id = await publisher.publish('order');
      const player = new RtmpClient();
      await player.connect(rtmp('live'));
      await player.play('order');
      player.streamCommand(1, 'closeStream');
      await until(() => hooks.calls.includes('unsubscribe order'), 5000, 'unsubscribe');
      player.close();
      await until(() => hooks.calls.filter((c) => c.startsWith('disconnect')).length === 1, 5000, 'player gone');
      publisher.streamCommand(id, 'closeStream');
      await until(() => hooks.calls.includes('unpublish order'), 5000, 'unpublish');
      publisher.close();
      await until(() => hooks.calls.filter((c) => c.startsWith('disconnect')).length === 2, 5000, 'publisher gone');
      assert.deepEqual(hooks.calls, [
        'connect RTMP', 'publish order', 'connect RTMP', 'subscribe order', 'unsubscribe order', 'disconnect RTMP', 'unpublish order', 'disconnect RTMP',
      ]);
    });

    it('serves an RTMFP player on its publisher\'s worker without the frames going through the main thread', { skip: workers === '0' }, async () => {
      const publisher = new RtmfpClient();
      await publisher.connect(rtmfp('live'));
      const port = publisher.session!.address.port;
      const id = await publisher.publish('local');
      // The next RTMFP session goes to the least loaded worker: fill the other one first.
      const filler: RtmfpClient[] = [];
      let player: RtmfpClient | null = null;
      const got: Buffer[] = [];
      for (let tries = 0; tries < 4 && player === null; tries++) {
        const c = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && got.push(Buffer.from(payload)) });
        await c.connect(rtmfp('live'));
        if (c.session!.address.port === port) {
          player = c;
        } else {
          filler.push(c);
        }
      }
      assert.ok(player !== null, 'a player on the publisher\'s worker');
      const handle = server.rtmfp!.workers.find((w) => w.port === port)!;
      const framesToIt: ToWorker[] = [];
      const post = handle.post.bind(handle);
      handle.post = (message, moved) => {
        if (message.op === 'frame') {
          framesToIt.push(message);
        }
        post(message, moved);
      };
      try {
        await player.play('local');
        publisher.writeMedia(id, 9, 0, avcSequenceHeader);
        for (let i = 0; i < 10; i++) {
          publisher.writeMedia(id, 9, i * 40, videoFrame(i === 0, i, 2000));
          await sleep(3);
        }
        await until(() => got.length === 11, 5000, `local player got ${got.length}/11`);
        assert.equal(framesToIt.length, 0, 'no frame posted to the worker: its own publisher fed its player');
      } finally {
        handle.post = post;
      }
      for (const c of [publisher, player, ...filler]) {
        c.close();
      }
    });
  });
}

describe('RTMFP fan-out', { timeout: 60_000 }, () => {
  it('sends a frame to many sessions through one fragment table and encryptFanOut, byte for byte', async () => {
    const { server, rtmfp } = await startRtmfpServer({ 'RTMFP.workers': '0' });
    try {
      const publisher = new RtmfpClient();
      await publisher.connect(rtmfp('live'));
      const id = await publisher.publish('fan');
      const got: Buffer[][] = [];
      const players: RtmfpClient[] = [];
      for (let i = 0; i < 6; i++) {
        const frames: Buffer[] = [];
        got.push(frames);
        const p = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && frames.push(Buffer.from(payload)) });
        await p.connect(rtmfp('live'));
        await p.play('fan');
        players.push(p);
      }
      publisher.writeMedia(id, 9, 0, avcSequenceHeader);
      await until(() => got.every((g) => g.length === 1), 5000, 'configurations');
      const sent: Buffer[] = [];
      for (let i = 0; i < 24; i++) {
        // Keyframes of several fragments, small inter frames.
        sent.push(videoFrame(i % 8 === 0, i, i % 8 === 0 ? 9000 : 700));
        publisher.writeMedia(id, 9, i * 40, sent[i]);
        await sleep(20);
      }
      await until(() => got.every((g) => g.length === 25), 10_000, `frames: ${got.map((g) => g.length).join(',')}`);
      got.forEach((g) => assert.deepEqual(g.slice(1), sent));
      const stats = server.rtmfp!.plane.fanOut.stats;
      assert.ok(stats.fast > 0 && stats.datagrams >= stats.fast, `frames left through the fan-out (${JSON.stringify(stats)})`);
      for (const c of [publisher, ...players]) {
        c.close();
      }
    } finally {
      await server.stop();
    }
  });
});

describe('media workers: bad input on a socket a worker serves', { timeout: 60_000, skip: handover ? false : 'no socket handover without the native addon' }, () => {
  it('closes that session only', async () => {
    const { server, rtmp } = await startRtmfpServer({ 'RTMP.workers': '2', 'RTMFP.workers': '0' });
    try {
      const publisher = new RtmpClient();
      await publisher.connect(rtmp('live'));
      const id = await publisher.publish('steady');
      let frames = 0;
      const player = new RtmpClient({ onMedia: (type) => type === 9 && frames++ });
      await player.connect(rtmp('live'));
      await player.play('steady');
      const source = publishSynthetic(publisher, id, { intervalMs: 20, maxFrames: 1000 });
      const bad = new RtmpClient();
      await bad.connect(rtmp('live'));
      assert.equal(server.rtmp!.localCount, 0, 'every session on a worker');
      const before = logLines.length;
      bad.writeRaw(Buffer.from([0x03, 0xff, 0xff, 0xff, 0, 0, 0x10, 0x33, 0, 0, 0, 0, 1, 2, 3]));
      await until(() => bad.closed, 5000, 'the bad session closed');
      await until(() => logLines.slice(before).some((l) => /session closed: protocol error/.test(l)), 5000, 'closed with a protocol error');
      const seen = frames;
      await sleep(300);
      assert.ok(frames > seen, 'the player on a worker keeps receiving');
      source.stop();
      publisher.close();
      player.close();
    } finally {
      await server.stop();
    }
  });
});
