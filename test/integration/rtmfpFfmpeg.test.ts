import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { ffmpegPlay, ffmpegPublish, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { mediaTags, readFlv } from '../helpers/flv.js';
import { sleep } from '../helpers/inProcess.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';

/**
 * Media payloads without sequence headers, as hex, in order per track: RTMFP carries audio and
 * video on separate flows, so only the order within each track is defined.
 */
const payloads = (tags: Array<{ type: number; payload: Buffer }>): { audio: string[]; video: string[] } => {
  const of = (type: number): string[] => tags.filter((t) => t.type === type && t.payload[1] !== 0).map((t) => t.payload.toString('hex'));
  return { audio: of(8), video: of(9) };
};

for (const workers of ['0', '2']) {
  describe(`RTMFP and RTMP across protocols with real ffmpeg, RTMFP.workers=${workers}`, { timeout: 120_000 }, () => {
    let s: RtmfpTestServer;
    let dir: string;
    let source: string;

    before(async () => {
      dir = tempDir();
      source = makeTestFlv(join(dir, 'source.flv'), 3, 25);
      s = await startRtmfpServer({ 'RTMFP.workers': workers });
    });

    after(async () => {
      await s.server.stop();
    });

    it('plays over RTMFP, byte for byte, what ffmpeg publishes over RTMP', async () => {
      const got: Array<{ type: number; payload: Buffer }> = [];
      const player = new RtmfpClient({ onMedia: (type, _t, payload) => got.push({ type, payload: Buffer.from(payload) }) });
      await player.connect(s.rtmfp('live'));
      const sid = await player.play('fromffmpeg');
      const publisher = ffmpegPublish(source, s.rtmp('live/fromffmpeg'), true);
      assert.equal(await withTimeout(publisher.exited, 30_000, 'ffmpeg publisher'), 0, publisher.stderr());
      await player.waitStatus(sid, ['NetStream.Play.UnpublishNotify'], 10_000);
      await sleep(300);
      assert.deepEqual(payloads(got), payloads(mediaTags(readFlv(source))));
      player.close();
    });

    it('lets ffmpeg play over RTMP, byte for byte, what an RTMFP client publishes', async () => {
      const out = join(dir, `fromrtmfp-${workers}.flv`);
      const player = ffmpegPlay(s.rtmp('live/fromrtmfp'), out);
      await until(() => [...s.server.core.publications.keys()].includes('fromrtmfp'), 10_000, 'ffmpeg subscribed');
      const publisher = new RtmfpClient();
      await publisher.connect(s.rtmfp('live'));
      const id = await publisher.publish('fromrtmfp');
      const tags = readFlv(source);
      const start = Date.now();
      for (const tag of tags) {
        // Real-time pacing, so the unreliable media flows are not asked for more than a stream's rate.
        const due = start + tag.timestamp - Date.now();
        if (due > 0) {
          await sleep(due);
        }
        publisher.writeMedia(id, tag.type === 18 ? 18 : tag.type, tag.timestamp, tag.payload);
      }
      await sleep(500);
      publisher.close();
      assert.equal(await withTimeout(player.exited, 30_000, 'ffmpeg player'), 0, player.stderr());
      assert.deepEqual(payloads(readFlv(out)), payloads(mediaTags(tags)));
    });
  });
}
