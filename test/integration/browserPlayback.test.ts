import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, after, before, describe, it } from 'node:test';
import type { Browser } from 'puppeteer-core';
import type { Server } from '../../src/Server.js';
import { type Player, type PlayerType, isNotBlank, launchBrowser, openPlayer, playerPageAssets, skipUnlessBrowser } from '../helpers/browser.js';
import { type RunningProcess, hasFfmpeg, run, tempDir } from '../helpers/ffmpeg.js';
import { startInProcess, waitForLog } from '../helpers/inProcess.js';
import { freePort } from '../helpers/serverProcess.js';

const skip = skipUnlessBrowser() || (!hasFfmpeg() && 'ffmpeg is not installed');

/**
 * A live stream published by ffmpeg, played in headless chromium from a page that Nimbus itself
 * serves (www/player/: the player page with mpegts.js and hls.js), by HTTP-FLV, WebSocket-FLV and
 * HLS: frames decoded, the clock advancing, the picture's size, a screenshot that shows it.
 */
describe('the browser plays what Nimbus serves (HTTP-FLV, WebSocket-FLV, HLS)', { timeout: 120_000, skip }, () => {
  let dir: string;
  let server: Server;
  let browser: Browser | undefined;
  let publisher: RunningProcess | undefined;
  let page: string;
  let base: string;

  before(async () => {
    dir = tempDir('nimbus-playback-');
    const www = join(dir, 'www');
    mkdirSync(join(www, 'player'), { recursive: true });
    mkdirSync(join(www, 'live'));
    for (const asset of playerPageAssets()) {
      copyFileSync(asset.file, join(www, 'player', asset.name));
    }
    const port = await freePort();
    ({ server } = await startInProcess({ 'HTTP.port': String(port), 'application.dir': dir, 'HLS.segmentDuration': '1', 'HLS.partDuration': '0.5' }));
    base = `127.0.0.1:${server.http!.boundPort}`;
    page = `http://${base}/player/`;
    // 60 s at most of a moving pattern with a tone, one keyframe a second, as OBS would send it.
    publisher = run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${server.config.rtmp.port}/live/cam`,
    ]);
    await waitForLog(/publication cam started/);
    browser = await launchBrowser();
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      publisher?.child.kill('SIGKILL');
      await publisher?.exited;
      await server.stop();
    }
  });

  const plays = async (t: TestContext, type: PlayerType, src: string, shot: string, protocol: string): Promise<void> => {
    let player: Player | undefined;
    try {
      player = await openPlayer(browser!, page, src, type);
      const first = await player.waitForFrames(10, 20_000);
      const later = await player.waitForFrames(first.totalVideoFrames + 25, 15_000);
      assert.ok(later.currentTime > first.currentTime, `currentTime advances: ${first.currentTime} → ${later.currentTime}`);
      assert.equal(later.width, 320, 'videoWidth');
      assert.equal(later.height, 240, 'videoHeight');
      assert.deepEqual(later.errors, [], 'no player errors');
      const png = await player.screenshot();
      const file = join(dir, shot);
      writeFileSync(file, png);
      t.diagnostic(`screenshot ${file}: ${later.totalVideoFrames} frames, ${later.droppedVideoFrames} dropped, t=${later.currentTime.toFixed(2)} s`);
      assert.ok(isNotBlank(png), `the screenshot shows a picture (${file})`);
      // The API counts the viewer under its protocol while it plays.
      const publications = (await (await fetch(`http://${base}/api/v1/publications/cam`)).json()) as { subscribers: Record<string, number> };
      assert.ok((publications.subscribers[protocol] ?? 0) >= 1, `${protocol} viewer in ${JSON.stringify(publications.subscribers)}`);
    } finally {
      await player?.close();
    }
  };

  it('plays HTTP-FLV with mpegts.js', async (t) => {
    await plays(t, 'flv', `http://${base}/live/cam.flv`, 'http-flv.png', 'HTTP');
  });

  it('plays WebSocket-FLV with mpegts.js', async (t) => {
    await plays(t, 'ws-flv', `ws://${base}/live/cam.flv`, 'ws-flv.png', 'WebSocket');
  });

  it('plays low-latency HLS (fMP4 parts) with hls.js', async (t) => {
    await plays(t, 'hls', `http://${base}/live/cam.m3u8`, 'hls.png', 'HLS');
  });
});
