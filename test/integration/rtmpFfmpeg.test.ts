import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ffmpegPlay, ffmpegPublish, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { type FlvTag, assertSamePayloads, mediaTags, readFlv } from '../helpers/flv.js';
import { type ServerProcess, startServer } from '../helpers/serverProcess.js';

/** Timestamps never go backwards per track, and the span matches what was sent (within 100 ms). */
const assertSaneTimestamps = (sent: FlvTag[], got: FlvTag[]): void => {
  for (const type of [8, 9]) {
    const ts = mediaTags(got).filter((t) => t.type === type).map((t) => t.timestamp);
    for (let i = 1; i < ts.length; i++) {
      assert.ok(ts[i] >= ts[i - 1], `type ${type} timestamps go backwards at ${i}: ${ts[i - 1]} → ${ts[i]}`);
    }
    const sentTs = mediaTags(sent).filter((t) => t.type === type).map((t) => t.timestamp);
    const span = ts[ts.length - 1] - ts[0];
    const sentSpan = sentTs[sentTs.length - 1] - sentTs[0];
    assert.ok(Math.abs(span - sentSpan) <= 100, `type ${type} span ${span} vs sent ${sentSpan}`);
  }
};

describe('RTMP with real ffmpeg', { timeout: 120_000 }, () => {
  let dir: string;
  let source: string;
  let server: ServerProcess;
  let port: number;

  before(async () => {
    dir = tempDir();
    source = makeTestFlv(join(dir, 'source.flv'), 4, 25);
    ({ server, port } = await startServer());
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  it('relays every audio and video payload byte for byte to a player that started first', async () => {
    const url = `rtmp://127.0.0.1:${port}/live/first`;
    const out = join(dir, 'first.flv');
    const player = ffmpegPlay(url, out);
    await server.waitFor(/playing first/);
    const publisher = ffmpegPublish(source, url, false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
    const sent = readFlv(source);
    const got = readFlv(out);
    assertSamePayloads(sent, got);
    assertSaneTimestamps(sent, got);
    // Sequence headers reached the player too.
    assert.ok(got.some((t) => t.type === 9 && t.payload[1] === 0), 'AVC sequence header');
    assert.ok(got.some((t) => t.type === 8 && t.payload[1] === 0), 'AAC sequence header');
  });

  it('starts a late joiner on a keyframe with sequence headers (GOP cache)', async () => {
    const url = `rtmp://127.0.0.1:${port}/live/late`;
    const publisher = ffmpegPublish(source, url, true);
    await server.waitFor(/publication late started/);
    await new Promise((r) => setTimeout(r, 1500));
    const out = join(dir, 'late.flv');
    const player = ffmpegPlay(url, out);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
    const got = mediaTags(readFlv(out));
    const firstVideo = got.find((t) => t.type === 9)!;
    assert.equal(firstVideo.payload[0] >> 4, 1, 'first video tag is a keyframe');
    assert.equal(firstVideo.payload[1], 0, 'first video tag is the AVC sequence header');
    const firstPicture = got.find((t) => t.type === 9 && t.payload[1] === 1)!;
    assert.equal(firstPicture.payload[0] >> 4, 1, 'first picture is a keyframe');
    // What it got is a suffix of what was sent, from a keyframe on.
    const sent = mediaTags(readFlv(source)).filter((t) => t.payload[1] !== 0);
    const start = sent.findIndex((t) => t.type === 9 && t.payload.equals(firstPicture.payload));
    assert.ok(start > 0, 'the late joiner started after the beginning');
    const receivedVideo = got.filter((t) => t.type === 9 && t.payload[1] !== 0);
    const sentVideo = sent.slice(start).filter((t) => t.type === 9);
    assert.equal(receivedVideo.length, sentVideo.length);
    receivedVideo.forEach((t, i) => assert.ok(t.payload.equals(sentVideo[i].payload), `video ${i}`));
  });

  it('serves two publishers and several players at once, then unpublish and republish', async () => {
    const urls = ['a', 'b'].map((n) => `rtmp://127.0.0.1:${port}/live/multi-${n}`);
    const players = urls.flatMap((url, i) => [0, 1].map((j) => ({ url, out: join(dir, `multi-${i}-${j}.flv`) })));
    const running = players.map((p) => ffmpegPlay(p.url, p.out));
    await server.waitFor(/(playing multi-[ab][\s\S]*){4}/);
    await new Promise((r) => setTimeout(r, 500));
    const publishers = urls.map((url) => ffmpegPublish(source, url, false));
    for (const p of publishers) {
      assert.equal(await withTimeout(p.exited, 30_000, 'publisher'), 0, p.stderr());
    }
    for (const p of running) {
      assert.equal(await withTimeout(p.exited, 30_000, 'player'), 0, p.stderr());
    }
    const sent = readFlv(source);
    for (const p of players) {
      assertSamePayloads(sent, readFlv(p.out));
    }
    // Republish the same name after the first publisher left.
    const again = join(dir, 'again.flv');
    const player = ffmpegPlay(urls[0], again);
    await new Promise((r) => setTimeout(r, 700));
    const publisher = ffmpegPublish(source, urls[0], false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'republisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
    assert.ok(mediaTags(readFlv(again)).length > 0, 'republished stream reached the player');
  });

  it('refuses a second publisher of a name already published with BadName', async () => {
    const url = `rtmp://127.0.0.1:${port}/live/taken`;
    const first = ffmpegPublish(source, url, true);
    await server.waitFor(/publication taken started/);
    const second = ffmpegPublish(source, url, true);
    const code = await withTimeout(second.exited, 30_000, 'second publisher');
    assert.notEqual(code, 0);
    assert.match(second.stderr(), /BadName|already published/);
    first.child.kill('SIGINT');
    await first.exited;
  });
});
