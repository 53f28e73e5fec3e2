/**
 * Headless chromium for end-to-end playback tests: the system chromium driven by puppeteer-core
 * (no browser download), the player page of test/fixtures/player (mpegts.js for HTTP-FLV and
 * WebSocket-FLV, hls.js for HLS) and checks on what the page decoded and shows.
 *
 * Tests without a browser skip with the reason, unless NIMBUS_BROWSER_REQUIRED=1 as in CI, where
 * they fail: `skipUnlessBrowser()` then does not skip and `launchBrowser()` throws.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The chromium to drive: $NIMBUS_CHROMIUM if that file exists, else the Debian or Ubuntu one; null if none. */
export const browserPath = (): string | null => {
  const fromEnv = process.env.NIMBUS_CHROMIUM;
  if (fromEnv !== undefined && fromEnv !== '') {
    return existsSync(fromEnv) ? fromEnv : null;
  }
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
};

/** NIMBUS_BROWSER_REQUIRED=1 (CI): a missing browser fails the browser tests instead of skipping them. */
export const browserRequired = (): boolean => process.env.NIMBUS_BROWSER_REQUIRED === '1';

const missingBrowser = (): string =>
  process.env.NIMBUS_CHROMIUM
    ? `NIMBUS_CHROMIUM=${process.env.NIMBUS_CHROMIUM} does not exist`
    : `no chromium at ${CANDIDATES.join(' or ')} (apt-get install chromium fonts-liberation, or set NIMBUS_CHROMIUM)`;

/**
 * `skip` option of node:test for browser tests: the reason when there is no browser, false when
 * there is one or when it is required (the tests then run and `launchBrowser()` fails them).
 */
export const skipUnlessBrowser = (): string | false =>
  browserPath() !== null || browserRequired() ? false : missingBrowser();

/**
 * Flags of the launch. --no-sandbox: chromium's sandbox does not start as root or in most
 * containers. --autoplay-policy: play() needs no user gesture (muted autoplay is allowed anyway;
 * this also covers unmuted pages). --mute-audio: no sound device needed. --disable-gpu and
 * --use-gl=swiftshader: software compositing, so a screenshot holds the decoded frame on machines
 * without a GPU. --disable-dev-shm-usage: containers often have a 64 MB /dev/shm, too small for
 * chromium. H.264 and AAC decode in software (Debian's chromium is built with its ffmpeg and the
 * proprietary codecs): no flag is needed for them.
 */
export const BROWSER_ARGS = [
  '--no-sandbox',
  '--autoplay-policy=no-user-gesture-required',
  '--mute-audio',
  '--disable-gpu',
  '--use-gl=swiftshader',
  '--disable-dev-shm-usage',
];

/** Starts headless chromium. Throws when there is none (the reason says why). Close it in a finally. */
export const launchBrowser = async (extraArgs: string[] = []): Promise<Browser> => {
  const executablePath = browserPath();
  if (executablePath === null) {
    throw new Error(`${browserRequired() ? 'NIMBUS_BROWSER_REQUIRED=1 but ' : ''}${missingBrowser()}`);
  }
  // puppeteer 22+ has no headless: 'new' any more: true is that (new) headless mode.
  return puppeteer.launch({ executablePath, headless: true, args: [...BROWSER_ARGS, ...extraArgs] });
};

const fixtures = fileURLToPath(new URL('../fixtures/player/', import.meta.url));
const require = createRequire(import.meta.url);

export interface PlayerAsset {
  /** Path of the asset under the page's folder, as index.html refers to it. */
  name: string;
  /** Absolute path of the file. */
  file: string;
  contentType: string;
}

/**
 * The files of the player page, to serve side by side in one folder: index.html, player.js and
 * the browser bundles of mpegts.js and hls.js from node_modules.
 */
export const playerPageAssets = (): PlayerAsset[] => [
  { name: 'index.html', file: `${fixtures}index.html`, contentType: 'text/html; charset=utf-8' },
  { name: 'player.js', file: `${fixtures}player.js`, contentType: 'text/javascript; charset=utf-8' },
  { name: 'mpegts.js', file: require.resolve('mpegts.js/dist/mpegts.js'), contentType: 'text/javascript; charset=utf-8' },
  { name: 'hls.min.js', file: require.resolve('hls.js/dist/hls.min.js'), contentType: 'text/javascript; charset=utf-8' },
];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.flv': 'video/x-flv',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.png': 'image/png',
};

export interface StaticServer {
  /** URL of the player page (ends with '/': files of the folder are at `new URL(name, url)`). */
  url: string;
  close: () => Promise<void>;
}

const sendFile = (req: IncomingMessage, res: ServerResponse, file: string, contentType: string): void => {
  const size = statSync(file).size;
  const headers: Record<string, string | number> = {
    'Content-Type': contentType,
    'Accept-Ranges': 'bytes',
    'Access-Control-Allow-Origin': '*',
    'Cache-Control': 'no-store',
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range !== null && (range[1] !== '' || range[2] !== '')) {
    if (range[1] === '') {
      start = Math.max(0, size - Number(range[2]));
    } else {
      start = Number(range[1]);
      end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    }
    if (start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Access-Control-Allow-Origin': '*' }).end();
      return;
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
};

/**
 * A static HTTP server on 127.0.0.1 (an ephemeral port) with the player page at its root and,
 * when `dir` is given, the files of that folder beside it (with byte ranges and CORS).
 */
export const servePlayerPage = async (dir?: string): Promise<StaticServer> => {
  const assets = new Map(playerPageAssets().map((a) => [a.name, a]));
  const root = dir === undefined ? undefined : resolve(dir);
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Headers': '*',
        'Access-Control-Allow-Methods': 'GET, HEAD',
      }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/^\/+/, '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const asset = assets.get(name === '' ? 'index.html' : name);
    if (asset !== undefined) {
      sendFile(req, res, asset.file, asset.contentType);
      return;
    }
    if (root !== undefined) {
      const file = resolve(root, name);
      if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) {
        sendFile(req, res, file, CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
        return;
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' }).end(`not found: ${name}\n`);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
};

export type PlayerType = 'flv' | 'ws-flv' | 'hls';

export interface PlaybackState {
  totalVideoFrames: number;
  droppedVideoFrames: number;
  currentTime: number;
  readyState: number;
  /** window.playerErrors of the page: errors of mpegts.js, hls.js, the video element and play(). */
  errors: string[];
  /** videoWidth and videoHeight of the element (0 before the first frame's metadata). */
  width: number;
  height: number;
}

export interface OpenPlayerOptions {
  /** false for an on-demand file (`live=0`); the default is a live stream. */
  live?: boolean;
}

export interface Player {
  page: Page;
  /**
   * Polls until at least `minFrames` frames are decoded and currentTime has gone beyond where it
   * was at the first poll; throws after `timeoutMs` with the state, the player errors and the
   * page's console log. Call it while the media still plays (not after an on-demand file ended).
   */
  waitForFrames: (minFrames: number, timeoutMs: number) => Promise<PlaybackState>;
  playbackState: () => Promise<PlaybackState>;
  /** PNG of the video element as it is shown now. */
  screenshot: () => Promise<Buffer>;
  /** The page's console messages, page errors and failed requests so far. */
  log: () => string[];
  close: () => Promise<void>;
}

/**
 * What the page functions below use of the browser's globals (the test tsconfig has no DOM lib:
 * declaring it for one file would change the globals of every file).
 */
interface PageVideo {
  currentTime: number;
  readyState: number;
  videoWidth: number;
  videoHeight: number;
  paused: boolean;
  ended: boolean;
  networkState: number;
  buffered: { length: number; start: (i: number) => number; end: (i: number) => number };
  getVideoPlaybackQuality: () => { totalVideoFrames: number; droppedVideoFrames: number };
}
interface PageGlobals {
  document: { querySelector: (selector: string) => PageVideo | null };
  playerErrors?: string[];
}

const LOG_LINES = 1000;

/** Opens `${pageUrl}?src=&type=&live=` in a new page of `browser`. */
export const openPlayer = async (
  browser: Browser,
  pageUrl: string,
  src: string,
  type: PlayerType,
  options: OpenPlayerOptions = {},
): Promise<Player> => {
  const url = new URL(pageUrl);
  url.searchParams.set('src', src);
  url.searchParams.set('type', type);
  url.searchParams.set('live', options.live === false ? '0' : '1');

  const lines: string[] = [];
  const note = (line: string): void => {
    lines.push(line);
    if (lines.length > LOG_LINES) {
      lines.splice(0, lines.length - LOG_LINES);
    }
  };
  const page = await browser.newPage();
  page.on('console', (m) => note(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => note(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => note(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) {
      note(`HTTP ${r.status()}: ${r.url()}`);
    }
  });
  await page.goto(url.href, { waitUntil: 'load' });

  const playbackState = (): Promise<PlaybackState> =>
    page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const video = g.document.querySelector('video')!;
      const quality = video.getVideoPlaybackQuality();
      return {
        totalVideoFrames: quality.totalVideoFrames,
        droppedVideoFrames: quality.droppedVideoFrames,
        currentTime: video.currentTime,
        readyState: video.readyState,
        errors: [...(g.playerErrors ?? [])],
        width: video.videoWidth,
        height: video.videoHeight,
      };
    });

  const details = (): Promise<string> =>
    page.evaluate(() => {
      const video = (globalThis as unknown as PageGlobals).document.querySelector('video')!;
      const ranges: string[] = [];
      for (let i = 0; i < video.buffered.length; i++) {
        ranges.push(`${video.buffered.start(i).toFixed(2)}-${video.buffered.end(i).toFixed(2)}`);
      }
      return `paused=${video.paused} ended=${video.ended} networkState=${video.networkState} buffered=[${ranges.join(' ')}]`;
    });

  const waitForFrames = async (minFrames: number, timeoutMs: number): Promise<PlaybackState> => {
    const deadline = Date.now() + timeoutMs;
    let first: number | undefined;
    let state = await playbackState();
    for (;;) {
      first ??= state.currentTime;
      if (state.totalVideoFrames >= minFrames && state.currentTime > first) {
        return state;
      }
      if (Date.now() >= deadline) {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
      state = await playbackState();
    }
    const more = await details().catch((e: unknown) => String(e));
    throw new Error([
      `no playback of ${type} ${src} after ${timeoutMs} ms: wanted ${minFrames} frames and currentTime beyond ${first}`,
      `state: ${JSON.stringify(state)} ${more}`,
      `player errors: ${state.errors.length > 0 ? state.errors.join(' | ') : 'none'}`,
      'page log:',
      ...lines.slice(-80).map((l) => `  ${l}`),
    ].join('\n'));
  };

  const screenshot = async (): Promise<Buffer> => {
    const video = await page.$('video');
    if (video === null) {
      throw new Error('the player page has no video element');
    }
    try {
      const png = await video.screenshot({ type: 'png' });
      return Buffer.from(png.buffer, png.byteOffset, png.byteLength);
    } finally {
      await video.dispose();
    }
  };

  return {
    page,
    waitForFrames,
    playbackState,
    screenshot,
    log: () => [...lines],
    close: () => page.close(),
  };
};

export interface BlankOptions {
  /** Least standard deviation of the luma (0-255) of a picture that is not blank. */
  minLumaStdDev?: number;
  /** Least number of distinct colours (4 bits a channel, each on at least 0.5 % of the pixels). */
  minColours?: number;
}

/**
 * True when the PNG shows a picture: its luma varies (standard deviation above `minLumaStdDev`)
 * and it has several distinct colours, not one colour with noise or compression artefacts.
 */
export const isNotBlank = (png: Buffer, options: BlankOptions = {}): boolean => {
  const { minLumaStdDev = 8, minColours = 4 } = options;
  const image = PNG.sync.read(png);
  const pixels = image.width * image.height;
  if (pixels === 0) {
    return false;
  }
  const bins = new Map<number, number>();
  let sum = 0;
  let sumSquares = 0;
  const { data } = image;
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma;
    sumSquares += luma * luma;
    const bin = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    bins.set(bin, (bins.get(bin) ?? 0) + 1);
  }
  const mean = sum / pixels;
  const stdDev = Math.sqrt(Math.max(0, sumSquares / pixels - mean * mean));
  let colours = 0;
  for (const count of bins.values()) {
    if (count >= pixels * 0.005) {
      colours++;
    }
  }
  return stdDev >= minLumaStdDev && colours >= minColours;
};
