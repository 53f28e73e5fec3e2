import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { Browser } from 'puppeteer-core';
import {
  type Player,
  type PlayerType,
  type StaticServer,
  isNotBlank,
  launchBrowser,
  openPlayer,
  servePlayerPage,
  skipUnlessBrowser,
} from '../helpers/browser.js';
import { hasFfmpeg, makeTestFlv, tempDir } from '../helpers/ffmpeg.js';

/** A `width`×`height` PNG of one colour. */
const uniformPng = (width: number, height: number, rgb: [number, number, number]): Buffer => {
  const png = new PNG({ width, height });
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = rgb[0];
    png.data[i + 1] = rgb[1];
    png.data[i + 2] = rgb[2];
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
};

describe('isNotBlank', () => {
  it('is false for a uniform black or grey picture and true for a pattern', () => {
    assert.equal(isNotBlank(uniformPng(320, 240, [0, 0, 0])), false, 'black');
    assert.equal(isNotBlank(uniformPng(320, 240, [128, 128, 128])), false, 'grey');
    const bars = new PNG({ width: 320, height: 240 });
    const colours = [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]];
    for (let y = 0; y < 240; y++) {
      for (let x = 0; x < 320; x++) {
        const c = colours[Math.floor(x / 40)];
        bars.data.set([c[0], c[1], c[2], 255], (y * 320 + x) * 4);
      }
    }
    assert.equal(isNotBlank(PNG.sync.write(bars)), true, 'colour bars');
  });
});

const skip = skipUnlessBrowser() || (!hasFfmpeg() && 'ffmpeg is not installed');

describe('headless chromium plays what ffmpeg made (browser harness self-test)', { timeout: 60_000, skip }, () => {
  let dir: string;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;

  before(async () => {
    dir = tempDir('nimbus-browser-');
    makeTestFlv(join(dir, 'clip.flv'), 6, 25);
    // HLS on demand of the same clip: fMP4 segments of one second (one GOP each).
    mkdirSync(join(dir, 'hls'));
    const hls = spawnSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-i', join(dir, 'clip.flv'), '-c', 'copy',
      '-f', 'hls', '-hls_segment_type', 'fmp4', '-hls_time', '1', '-hls_playlist_type', 'vod',
      join(dir, 'hls', 'index.m3u8'),
    ]);
    assert.equal(hls.status, 0, `ffmpeg HLS: ${hls.stderr.toString()}`);
    server = await servePlayerPage(dir);
    browser = await launchBrowser();
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      await server?.close();
    }
  });

  const plays = async (t: TestContext, type: PlayerType, path: string, shot: string): Promise<void> => {
    const src = new URL(path, server!.url).href;
    let player: Player | undefined;
    try {
      player = await openPlayer(browser!, server!.url, src, type, { live: false });
      const first = await player.waitForFrames(10, 15_000);
      // Frames keep coming and the clock keeps moving (not one decoded picture then a stall).
      const later = await player.waitForFrames(first.totalVideoFrames + 10, 10_000);
      assert.ok(later.totalVideoFrames > first.totalVideoFrames, `frames grow: ${first.totalVideoFrames} → ${later.totalVideoFrames}`);
      assert.ok(later.currentTime > first.currentTime, `currentTime advances: ${first.currentTime} → ${later.currentTime}`);
      assert.equal(later.width, 320, 'videoWidth');
      assert.equal(later.height, 240, 'videoHeight');
      assert.ok(later.readyState >= 2, `readyState ${later.readyState}`);
      assert.deepEqual(later.errors, [], 'no player errors');
      const png = await player.screenshot();
      const file = join(dir, shot);
      writeFileSync(file, png);
      t.diagnostic(`screenshot ${file}: ${later.totalVideoFrames} frames, ${later.droppedVideoFrames} dropped, t=${later.currentTime.toFixed(2)} s`);
      assert.ok(isNotBlank(png), `the screenshot shows a picture (${file})`);
    } finally {
      await player?.close();
    }
  };

  it('plays an on-demand H.264/AAC FLV with mpegts.js', async (t) => {
    await plays(t, 'flv', 'clip.flv', 'flv.png');
  });

  it('plays an on-demand fMP4 HLS with hls.js', async (t) => {
    await plays(t, 'hls', 'hls/index.m3u8', 'hls.png');
  });
});
