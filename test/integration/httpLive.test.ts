import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPlay, ffmpegPublish, makeTestFlv, run, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { assertSamePayloads, mediaTags, parseFlv, readFlv } from '../helpers/flv.js';
import { sleep, startInProcess, waitForLog } from '../helpers/inProcess.js';
import { freePort } from '../helpers/serverProcess.js';
import { publishSynthetic } from '../helpers/synthetic.js';

/** Reads an HTTP-FLV stream with fetch until `bytes` arrived or `ms` passed; the bytes so far. */
const readStream = async (url: string, bytes: number, ms: number): Promise<Buffer> => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    const res = await fetch(url, { signal: controller.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/x-flv');
    for await (const chunk of res.body!) {
      const piece = chunk as Uint8Array;
      chunks.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      size += piece.length;
      if (size >= bytes) {
        break;
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) {
      throw err;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return Buffer.concat(chunks);
};

/**
 * framemd5 lines (video mapped to stream 0, audio to 1) as "stream size md5" per packet, video
 * then audio, each in its own order: what a demuxer got, whatever the container interleaving.
 */
const packetHashes = (framemd5: string): string[] => {
  const lines = framemd5
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(',').map((f) => f.trim()))
    .map((f) => `${f[0]} ${f[4]} ${f[5]}`);
  return [...lines.filter((l) => l.startsWith('0 ')), ...lines.filter((l) => l.startsWith('1 '))];
};

describe('HTTP-FLV, WebSocket-FLV and HLS', { timeout: 120_000 }, () => {
  let dir: string;
  let source: string;
  let server: Server;
  let rtmp: (path: string) => string;
  let http: string;
  let ws: string;

  before(async () => {
    dir = tempDir('nimbus-httplive-');
    source = makeTestFlv(join(dir, 'source.flv'), 4, 25);
    mkdirSync(join(dir, 'www', 'live'), { recursive: true });
    cpSync(new URL('../fixtures/http/live/main.lua', import.meta.url), join(dir, 'www', 'live', 'main.lua'));
    writeFileSync(join(dir, 'www', 'live', 'real.flv'), 'a file of that name wins over the stream');
    ({ server, url: rtmp } = await startInProcess({ 'HTTP.port': String(await freePort()), 'application.dir': dir, 'media.subscriberQueueBytes': '131072', 'media.subscriberTimeout': '1' }));
    http = `http://127.0.0.1:${server.http!.boundPort}`;
    ws = `ws://127.0.0.1:${server.http!.boundPort}`;
  });

  after(async () => {
    await server.stop();
  });

  it('plays a publication over HTTP-FLV to ffmpeg, every payload byte for byte, and ends with it', async () => {
    const out = join(dir, 'http.flv');
    const player = ffmpegPlay(`${http}/live/first.flv`, out);
    await waitForLog(/HTTP 127\.0\.0\.1:\d+ plays first/);
    await waitForLog(/onSubscribe HTTP first/);
    const publisher = ffmpegPublish(source, rtmp('live/first'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
    const got = readFlv(out);
    assertSamePayloads(readFlv(source), got);
    assert.ok(got.some((t) => t.type === 9 && t.payload[1] === 0), 'AVC sequence header');
    assert.ok(got.some((t) => t.type === 8 && t.payload[1] === 0), 'AAC sequence header');
  });

  it('plays a publication over WebSocket-FLV, every payload byte for byte', async () => {
    const socket = new WebSocket(`${ws}/live/second.flv`);
    const chunks: Buffer[] = [];
    socket.on('message', (data) => chunks.push(Buffer.from(data as Buffer)));
    const closed = new Promise<[number, string]>((resolve) => socket.on('close', (c, r) => resolve([c, r.toString()])));
    await waitForLog(/WebSocket 127\.0\.0\.1:\d+ plays second/);
    await waitForLog(/onSubscribe WebSocket second/);
    const publisher = ffmpegPublish(source, rtmp('live/second'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.deepEqual(await withTimeout(closed, 10_000, 'end of the stream'), [1000, 'unpublished']);
    assertSamePayloads(readFlv(source), parseFlv(Buffer.concat(chunks)));
  });

  it('starts a late HTTP-FLV viewer at a keyframe with the sequence headers (GOP cache), with CORS', async () => {
    const publisher = ffmpegPublish(source, rtmp('live/late'), true);
    try {
      await waitForLog(/publication late started/);
      await sleep(1500);
      const res = await fetch(`${http}/live/late.flv`, { method: 'HEAD', headers: { Origin: 'http://page.test' } });
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://page.test');
      const bytes = await readStream(`${http}/live/late.flv`, 60_000, 5000);
      assert.equal(bytes[4], 0x05, 'the FLV header announces audio and video');
      const tags = mediaTags(parseFlv(bytes));
      const firstVideo = tags.find((t) => t.type === 9)!;
      assert.equal(firstVideo.payload[1], 0, 'the AVC sequence header comes first');
      const firstPicture = tags.find((t) => t.type === 9 && t.payload[1] === 1)!;
      assert.equal(firstPicture.payload[0] >> 4, 1, 'the first picture is a keyframe');
      assert.ok(tags.some((t) => t.type === 8 && t.payload[1] === 0), 'AAC sequence header');
    } finally {
      publisher.child.kill('SIGKILL');
      await publisher.exited;
    }
  });

  it('serves HLS (fMP4) that ffmpeg reads with every packet of the source, and ends it with the publication', async () => {
    const out = join(dir, 'hls.framemd5');
    const reader = run('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-y', '-i', `${http}/live/third.m3u8`, '-map', '0:v:0', '-map', '0:a:0', '-c', 'copy', '-f', 'framemd5', out]);
    await waitForLog(/HLS 127\.0\.0\.1:\d+ plays third/);
    await waitForLog(/onSubscribe HLS third/);
    const publisher = ffmpegPublish(source, rtmp('live/third'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(reader.exited, 30_000, 'HLS reader'), 0, reader.stderr());
    const expected = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', source, '-map', '0:v:0', '-map', '0:a:0', '-c', 'copy', '-f', 'framemd5', '-']).stdout.toString();
    assert.deepEqual(packetHashes(readFileSync(out, 'utf8')), packetHashes(expected));
  });

  it('applies onSubscribe: a refused HTTP viewer gets 403, a WebSocket one 1008; a file of the name wins', async () => {
    const res = await fetch(`${http}/live/forbidden.flv`);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Not authorized to play forbidden/);
    const socket = new WebSocket(`${ws}/live/forbidden.flv`);
    const [code] = await new Promise<[number, string]>((resolve) => socket.on('close', (c, r) => resolve([c, r.toString()])));
    assert.equal(code, 1008);
    assert.equal(await (await fetch(`${http}/live/real.flv`)).text(), 'a file of that name wins over the stream');
    assert.equal((await fetch(`${http}/nowhere/x.flv`)).status, 404, 'no app: no stream');
  });

  it('drops a viewer that never reads (too slow) while another keeps playing; API, metrics and QOS see them', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(rtmp('live'));
    const id = await publisher.publish('fire');
    // A viewer that sends its request and never reads a byte.
    const stalled = connect(server.http!.boundPort, '127.0.0.1');
    stalled.on('error', () => undefined);
    stalled.write('GET /live/fire.flv HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause();
    let good = 0;
    const controller = new AbortController();
    const reading = (async () => {
      const res = await fetch(`${http}/live/fire.flv`, { signal: controller.signal });
      for await (const chunk of res.body!) {
        good += chunk.length;
      }
    })().catch(() => undefined);
    await waitForLog(/onSubscribe HTTP fire/);
    const feed = publishSynthetic(publisher, id, { videoSize: 60_000, intervalMs: 10, maxFrames: 2000 });
    try {
      await waitForLog(/HTTP viewer 127\.0\.0\.1:\d+ of fire too slow \(MS_ERR_SUBSCRIBER_TOO_SLOW\): closed/, 30_000);
      const seen = good;
      await sleep(500);
      assert.ok(good > seen, 'the reading viewer keeps receiving');

      const publications = (await (await fetch(`${http}/api/v1/publications`)).json()) as Record<string, unknown>[];
      const fire = publications.find((p) => p.name === 'fire')!;
      assert.deepEqual(fire.subscribers, { HTTP: 1 });
      assert.equal((fire.video as Record<string, unknown>).codec, 'H.264');
      assert.ok(((fire.video as Record<string, number>).bitrate) > 1_000_000, 'video bit rate measured');
      const clients = (await (await fetch(`${http}/api/v1/clients`)).json()) as Record<string, unknown>[];
      assert.ok(clients.some((c) => c.protocol === 'HTTP' && (c.bytesSent as number) > 0));
      assert.ok(clients.some((c) => c.protocol === 'RTMP'));
      const server_ = (await (await fetch(`${http}/api/v1/server`)).json()) as Record<string, unknown>;
      assert.equal(server_.name, 'nimbus');
      assert.equal((server_.threads as Record<string, number>).mediaWorkers, 2);
      const metrics = await (await fetch(`${http}/metrics`)).text();
      assert.match(metrics, /nimbus_subscribers\{protocol="HTTP"\} 1/);
      assert.match(metrics, /nimbus_publications [1-9]/);
      assert.match(metrics, /nimbus_process_cpu_user_seconds_total/);
      assert.deepEqual(await (await fetch(`${http}/health`)).json(), { status: 'ok', uptime: Math.round(process.uptime()) });
      const qos = (await (await fetch(`${http}/live/qos?x=1`, { method: 'POST', body: '["fire"]' })).json()) as Record<string, number>;
      assert.ok(qos.video > 100_000, `videoQOS.byteRate is real: ${JSON.stringify(qos)}`);
      assert.ok(qos.audio > 0, 'audioQOS.byteRate is real');
    } finally {
      feed.stop();
      controller.abort();
      await reading;
      stalled.destroy();
      publisher.close();
    }
  });

  it('drops a WebSocket-FLV viewer that never reads (too slow) while another WebSocket-FLV viewer keeps receiving', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(rtmp('live'));
    const id = await publisher.publish('smoke');
    // A WebSocket viewer that completes its handshake and never reads a byte again.
    const stalled = connect(server.http!.boundPort, '127.0.0.1');
    stalled.on('error', () => undefined);
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.write(
      'GET /live/smoke.flv HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await new Promise<void>((resolve) => stalled.once('data', () => resolve()));
    stalled.pause();
    await waitForLog(/onSubscribe WebSocket smoke/);
    let good = 0;
    const healthy = new WebSocket(`${ws}/live/smoke.flv`);
    healthy.on('message', (data) => {
      good += (data as Buffer).length;
    });
    const healthyClosed = new Promise<number>((resolve) => healthy.on('close', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      healthy.once('open', () => resolve());
      healthy.once('error', reject);
    });
    const feed = publishSynthetic(publisher, id, { videoSize: 60_000, intervalMs: 10, maxFrames: 3000 });
    try {
      await waitForLog(/WebSocket viewer 127\.0\.0\.1:\d+ of smoke too slow \(MS_ERR_SUBSCRIBER_TOO_SLOW\): closed/, 30_000);
      // It never reads the close frame: the server ends its TCP connection all the same (a paused
      // socket sees nothing, so it reads again once the server gave up: what was queued, then the end).
      await sleep(1500);
      stalled.on('data', () => undefined);
      stalled.resume();
      await withTimeout(stalledClosed, 5000, 'the stalled WebSocket viewer closed');
      // It left the publication; the healthy one is still there.
      let subscribers: unknown;
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
        const publications = (await (await fetch(`${http}/api/v1/publications`)).json()) as Record<string, unknown>[];
        subscribers = publications.find((p) => p.name === 'smoke')?.subscribers;
        if (JSON.stringify(subscribers) === JSON.stringify({ WebSocket: 1 })) {
          break;
        }
      }
      assert.deepEqual(subscribers, { WebSocket: 1 });
      const seen = good;
      await sleep(500);
      assert.ok(good > seen, 'the reading WebSocket viewer keeps receiving');
      assert.equal(healthy.readyState, healthy.OPEN);
    } finally {
      feed.stop();
      healthy.close();
      await healthyClosed;
      stalled.destroy();
      publisher.close();
    }
  });
});
