/**
 * Seed scenarios 3, 4 and 8 (MonaServer "Scalability and load-balancing"): the seed's publication
 * relay along a chain A -> B -> C, its overflow redirection followed by RTMP and RTMFP clients,
 * and an instance killed mid-stream then restarted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { ffmpegPlay, ffmpegPublish, hasFfmpeg, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { type FlvTag, mediaTags, readFlv } from '../helpers/flv.js';
import { publishSynthetic } from '../helpers/synthetic.js';
import { type Instance, count, freeTcpPort, kill, playFollowing, restart, sleep, startInstance, stopAll, until, waitCount } from './meshKit.js';

const JOINED = /Connection established with/;

/** An RTMP player that records every media message and status. */
const player = async (url: string, stream: string): Promise<{ client: RtmpClient; media: FlvTag[] }> => {
  const media: FlvTag[] = [];
  const client = new RtmpClient({ onMedia: (type, timestamp, payload) => media.push({ type, timestamp, payload: Buffer.from(payload) }) });
  await client.connect(url);
  await client.play(stream);
  return { client, media };
};

describe('mesh: the seed relay, overflow redirection and faults (real processes)', { timeout: 150_000, skip: !hasFfmpeg() && 'ffmpeg is not installed' }, () => {
  let a: Instance;
  let b: Instance;
  let c: Instance;
  let dir: string;

  before(async () => {
    dir = tempDir('nimbus-mesh-');
    makeTestFlv(join(dir, 'short.flv'), 3, 25);
    makeTestFlv(join(dir, 'long.flv'), 14, 25);
    const [meshB, meshC] = [await freeTcpPort(), await freeTcpPort()];
    const common = { fixture: 'relay', rtmfp: true, publicHost: true, extra: ['--maxSubscribers=1'] };
    c = await startInstance('C', { ...common, meshPort: meshC });
    b = await startInstance('B', { ...common, meshPort: meshB, targets: `127.0.0.1:${meshC}` });
    a = await startInstance('A', { ...common, targets: `127.0.0.1:${meshB}` });
    await waitCount(b, JOINED, 2);
    await waitCount(a, JOINED, 1);
  });

  after(async () => {
    await stopAll();
  });

  it('relays ffmpeg publishing to A to players on A, B and C byte for byte (ffmpeg plays from C); unpublish propagates', async () => {
    const players = await Promise.all([a, b].map((s) => player(s.rtmp(), 'relay')));
    const fromC = join(dir, 'fromC.flv');
    const ffplayer = ffmpegPlay(c.rtmp('live/relay'), fromC);
    await c.process.waitFor(/playing relay/);
    const publisher = ffmpegPublish(join(dir, 'short.flv'), a.rtmp('live/relay'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    const sent = mediaTags(readFlv(join(dir, 'short.flv')));
    for (const [i, p] of players.entries()) {
      const name = 'AB'[i];
      await p.client.waitStatus(1, ['NetStream.Play.UnpublishNotify'], 10_000);
      const got = mediaTags(p.media);
      assert.equal(got.length, sent.length, `player on ${name}: ${got.length} media messages, ${sent.length} sent`);
      for (let k = 0; k < sent.length; k++) {
        assert.equal(got[k].type, sent[k].type, `player on ${name}, message ${k}: type`);
        assert.ok(got[k].payload.equals(sent[k].payload), `player on ${name}, message ${k} (type ${sent[k].type}): payload differs`);
      }
      p.client.close();
    }
    // ffmpeg reads the relayed stream, metadata included, and stops when the relay is unpublished.
    assert.equal(await withTimeout(ffplayer.exited, 20_000, 'ffmpeg player on C'), 0, ffplayer.stderr());
    const pictures = (tags: FlvTag[]): FlvTag[] => mediaTags(tags).filter((t) => t.payload[1] !== 0);
    const got = pictures(readFlv(fromC));
    const expected = pictures(sent);
    assert.equal(got.length, expected.length, 'ffmpeg on C: every audio and video frame');
    got.forEach((t, k) => assert.ok(t.payload.equals(expected[k].payload), `ffmpeg on C: frame ${k} differs`));
    await waitCount(c, /relayed publication relay closed/, 1);
  });

  it('redirects subscribers past the threshold to the next server; RTMP and RTMFP clients follow as the seed client does', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(a.rtmp('live'));
    const synthetic = publishSynthetic(publisher, await publisher.publish('busy'), { maxFrames: 1500 });
    try {
      await waitCount(c, /relayed publication busy from/, 1);
      const first = await playFollowing('rtmp', a.rtmp(), 'busy');
      assert.deepEqual(first.redirects, [], 'the first subscriber of A plays there');
      const second = await playFollowing('rtmp', a.rtmp(), 'busy');
      assert.deepEqual(second.redirects, [`127.0.0.1:${b.port}`], 'A is full (maxSubscribers=1): error(_nextServer.host) sends the client to B');
      const third = await playFollowing('rtmfp', a.rtmfp(), 'busy');
      assert.deepEqual(third.redirects, [`127.0.0.1:${b.port}`, `127.0.0.1:${c.port}`], 'A and B full: the RTMFP client ends on C');
      for (const p of [first, second, third]) {
        const before = p.video.length;
        await until(() => p.video.length >= before + 10, 10_000, `video on ${p.url}`);
        p.close();
      }
    } finally {
      synthetic.stop();
      publisher.close();
    }
  });

  it('keeps serving when B is killed mid-stream: A and C fire onServerDisconnection, C closes what B relayed, all rejoin when B is back', async () => {
    await waitCount(c, /relayed publication busy closed/, 1);
    const onA = await player(a.rtmp(), 'marathon');
    const onC = await player(c.rtmp(), 'marathon');
    const publisher = ffmpegPublish(join(dir, 'long.flv'), a.rtmp('live/marathon'), true);
    try {
      await until(() => onC.media.filter((m) => m.type === 9).length > 10, 15_000, 'video relayed to C');
      const leftOnA = count(a, /Disconnection from/);
      const leftOnC = count(c, /left 127\.0\.0\.1/);
      await kill(b, 'SIGKILL');
      await waitCount(a, /Disconnection from/, leftOnA + 1, 5000);
      await waitCount(c, /left 127\.0\.0\.1/, leftOnC + 1, 5000);
      await onC.client.waitStatus(1, ['NetStream.Play.UnpublishNotify'], 5000);
      const aBefore = onA.media.length;
      await sleep(500);
      assert.ok(onA.media.length > aBefore, 'the player on A keeps receiving while B is down');

      const joinedA = count(a, JOINED);
      const cVideo = onC.media.filter((m) => m.type === 9).length;
      b = await restart(b);
      await waitCount(a, JOINED, joinedA + 1, 10_000);
      await waitCount(b, JOINED, 2, 10_000);
      await until(() => onC.media.filter((m) => m.type === 9).length > cVideo + 10, 10_000, 'video relayed to C again through the restarted B');
      assert.ok(onC.client.statuses.some((s) => s.info.code === 'NetStream.Play.PublishNotify'), 'C republished the relay');
    } finally {
      publisher.child.kill('SIGKILL');
      onA.client.close();
      onC.client.close();
    }
  });
});
