import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, after, before, describe, it } from 'node:test';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPublish, hasFfmpeg, makeTestFlv, run, type RunningProcess, tempDir } from '../helpers/ffmpeg.js';
import { logLines, sleep, startInProcess, waitForLog } from '../helpers/inProcess.js';
import { until } from '../helpers/rtmfpServer.js';

const TIMEOUT_MS = 1000;
const MEMORY_MAX = 64 * 1024 * 1024;

/** A JS app whose hooks run away on demand; `calls` is module state (lost when its worker restarts). */
const RUNAWAY = `
let calls = 0;
export function onConnection(client, mode) {
  if (mode === 'loop') { while (true) {} }
  client.count = () => ++calls;
  client.spin = () => { while (true) {} };
  client.later = async () => { await new Promise((r) => setTimeout(r, 20)); while (true) {} };
  client.bomb = () => { const a = []; for (;;) a.push(new Array(10000).fill(a.length)); };
  client.timer = () => { setTimeout(() => { while (true) {} }, 10); return true; };
  client.tap = (name) => {
    const publication = this.mona.publications.get(name);
    publication.onVideo = () => { while (true) {} };
    return true;
  };
  return { mode: mode ?? 'normal', calls };
}
`;

/** Another JS app tree (its own worker): its state must survive the other's restarts. */
const OTHER = `
let calls = 0;
export function onConnection(client) {
  client.count = () => ++calls;
}
`;

/** An app whose onStart runs away: it stays stopped with that error (no restart loop). */
const START_LOOP = `
export function onStart() { while (true) {} }
export function onConnection() { return { never: true }; }
`;

/** A main file that never ends loading. */
const TOP_LOOP = `
while (true) {}
export function onConnection() {}
`;

const LUA = `
function onConnection(client)
  function client:hello() return "lua here" end
end
`;

const rejection = async (promise: Promise<unknown>): Promise<RtmpCallError> => {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RtmpCallError, String(err));
    return err;
  }
  throw new Error('expected a rejection');
};

describe('a runaway JS hook', { timeout: 120_000, skip: !hasFfmpeg() }, () => {
  let server: Server;
  let url: (p: string) => string;
  let dir: string;
  let publisher: RunningProcess;
  let ffPlayer: RunningProcess;
  let player: RtmpClient;
  let out: string;
  let sizeAtStart = 0;
  /** When each audio/video message reached the RtmpClient player. */
  const arrivals: number[] = [];

  /** The longest wait between two frames of the player within [from, to] (edges included). */
  const longestGap = (from: number, to: number): number => {
    let last = from;
    let gap = 0;
    for (const t of arrivals) {
      if (t > from && t <= to) {
        gap = Math.max(gap, t - last);
        last = t;
      }
    }
    return Math.max(gap, to - last);
  };

  /** Runs `what` (a runaway), and checks the player kept receiving while it ran. */
  const whileStreaming = async <T>(t: TestContext, what: () => Promise<T>): Promise<{ result: T; ms: number }> => {
    const start = Date.now();
    const sizeBefore = statSync(out).size;
    const result = await what();
    const end = Date.now();
    // ffmpeg writes its output in blocks: over a short runaway it may not have flushed one yet.
    await until(() => statSync(out).size > sizeBefore, 3000, 'the ffmpeg player kept writing');
    const written = statSync(out).size - sizeBefore;
    const frames = arrivals.filter((t) => t > start && t <= end).length;
    const gap = longestGap(start, end);
    assert.ok(frames > (end - start) / 100, `the player got ${frames} frames in ${end - start} ms`);
    assert.ok(gap < 500, `the player waited ${gap} ms for a frame`);
    t.diagnostic(`stopped after ${end - start} ms; meanwhile the RtmpClient player got ${frames} frames (${gap} ms at most between two), the ffmpeg player wrote ${written} bytes`);
    return { result, ms: end - start };
  };

  before(async () => {
    dir = tempDir('nimbus-runaway-');
    for (const [path, content] of Object.entries({ 'www/js/main.mjs': RUNAWAY, 'www/other/main.mjs': OTHER, 'www/startloop/main.mjs': START_LOOP, 'www/toploop/main.mjs': TOP_LOOP, 'www/lua/main.lua': LUA })) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    mkdirSync(join(dir, 'www/live'));
    // RTMP on the main thread: the sessions of the stream live where a frozen loop would stop them.
    ({ server, url } = await startInProcess({
      'application.dir': dir,
      'application.timeout': String(TIMEOUT_MS / 1000),
      'application.memoryMax': String(MEMORY_MAX),
      'RTMP.workers': '0',
    }));
    const source = makeTestFlv(join(dir, 'long.flv'), 60, 25);
    publisher = ffmpegPublish(source, url('live/s'));
    for (const deadline = Date.now() + 10_000; server.core.publication('s')?.running !== true; ) {
      assert.ok(Date.now() < deadline, 'the publisher started');
      await sleep(20);
    }
    player = new RtmpClient({ onMedia: (type) => (type === 8 || type === 9) && arrivals.push(Date.now()) });
    await player.connect(url('live'));
    await player.play('s');
    out = join(dir, 'played.flv');
    // ffmpegPlay, with each packet written at once: the file grows while frames come.
    ffPlayer = run('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-y', '-i', url('live/s'), '-c', 'copy', '-flush_packets', '1', '-f', 'flv', out]);
    for (const deadline = Date.now() + 10_000; arrivals.length < 50; ) {
      assert.ok(Date.now() < deadline, 'the player receives');
      await sleep(20);
    }
    // The JS apps loaded (their workers started) before anything is timed.
    for (const path of ['js', 'other']) {
      const warm = new RtmpClient();
      await warm.connect(url(path));
      warm.close();
    }
    for (const deadline = Date.now() + 10_000; sizeAtStart === 0; ) {
      assert.ok(Date.now() < deadline, 'the ffmpeg player writes');
      await sleep(50);
      try {
        sizeAtStart = statSync(out).size;
      } catch {
        // not created yet
      }
    }
  });

  after(async () => {
    player?.close();
    ffPlayer?.child.kill('SIGINT');
    publisher?.child.kill('SIGINT');
    await Promise.all([ffPlayer?.exited, publisher?.exited]);
    await server?.stop();
  });

  it('in onConnection is stopped at the budget: Connect.Rejected, logged, and the app serves the next client', async (t) => {
    const lua = new RtmpClient();
    await lua.connect(url('lua'));
    const { result: rejected, ms } = await whileStreaming(t, async () => {
      const connecting = rejection(new RtmpClient().connect(url('js'), {}, 'loop'));
      await sleep(300);
      // The main thread is free while the JS hook spins: a Lua app answers at once.
      const asked = Date.now();
      assert.deepEqual(await lua.call('hello'), ['lua here']);
      assert.ok(Date.now() - asked < 200, `the Lua app answered in ${Date.now() - asked} ms`);
      return connecting;
    });
    assert.equal(rejected.info.code, 'NetConnection.Connect.Rejected');
    assert.equal(rejected.info.description, `app /js onConnection: time budget of ${TIMEOUT_MS} ms exceeded (application.timeout)`);
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `rejected after ${ms} ms`);
    await waitForLog(/3 \[app\] app \/js onConnection: time budget of 1000 ms exceeded \(application\.timeout\)/);
    await waitForLog(/JS apps \/js: their worker was stopped/);
    const next = new RtmpClient();
    const info = await next.connect(url('js'));
    assert.equal(info.mode, 'normal');
    assert.deepEqual(await next.call('count'), [1]);
    next.close();
    lua.close();
  });

  it('in an RPC method gives Call.Failed at the budget; other JS app trees keep their state, this one restarts without it', async (t) => {
    const other = new RtmpClient();
    await other.connect(url('other'));
    assert.deepEqual(await other.call('count'), [1]);
    const client = new RtmpClient();
    await client.connect(url('js'));
    const before = Number((await client.call('count'))[0]);
    const { result: failed, ms } = await whileStreaming(t, () => rejection(client.call('spin')));
    assert.equal(failed.info.code, 'NetConnection.Call.Failed');
    assert.equal(failed.info.description, `app /js spin: time budget of ${TIMEOUT_MS} ms exceeded (application.timeout)`);
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `failed after ${ms} ms`);
    assert.deepEqual(await other.call('count'), [2], 'the other tree runs in its own worker, untouched');
    // The client whose call ran away is disconnected once its answer is out (application.limitStrikes):
    // it cannot restart the tree again and again on the same connection.
    await until(() => client.closed, 3000, 'the culprit disconnected');
    const fresh = new RtmpClient();
    await fresh.connect(url('js'));
    const [count] = await fresh.call('count');
    assert.ok(Number(count) <= before, `module state starts over (${before} before, ${String(count)} after)`);
    fresh.close();
    client.close();
    other.close();
  });

  it('in an endless loop after an await fails just past the budget', async (t) => {
    const client = new RtmpClient();
    await client.connect(url('js'));
    const { result: failed, ms } = await whileStreaming(t, () => rejection(client.call('later')));
    assert.equal(failed.info.description, `app /js later: time budget of ${TIMEOUT_MS} ms exceeded (application.timeout)`);
    assert.ok(ms >= TIMEOUT_MS && ms < TIMEOUT_MS + 1500, `failed after ${ms} ms`);
    client.close();
  });

  it('that allocates without end is stopped by the heap cap (application.memoryMax), and the app works again', async (t) => {
    const client = new RtmpClient();
    await client.connect(url('js'));
    const { result: failed, ms } = await whileStreaming(t, () => rejection(client.call('bomb')));
    assert.equal(failed.info.code, 'NetConnection.Call.Failed');
    assert.equal(failed.info.description, `app /js bomb: memory cap of ${MEMORY_MAX} bytes exceeded (application.memoryMax)`);
    assert.ok(ms < TIMEOUT_MS, `the cap stopped it first, after ${ms} ms`);
    const fresh = new RtmpClient();
    await fresh.connect(url('js'));
    assert.deepEqual(await fresh.call('count'), [1]);
    fresh.close();
    client.close();
  });

  it('in a media hook (onVideo) is stopped and logged; the stream goes on', async (t) => {
    const client = new RtmpClient();
    await client.connect(url('js'));
    const { ms } = await whileStreaming(t, async () => {
      assert.deepEqual(await client.call('tap', null, 's'), [true]);
      return waitForLog(/3 \[script\] app \/js media hooks \(publication s\): time budget of 1000 ms exceeded/, 5000);
    });
    assert.ok(ms >= TIMEOUT_MS - 50, `stopped after ${ms} ms`);
    const fresh = new RtmpClient();
    await fresh.connect(url('js'));
    assert.deepEqual(await fresh.call('count'), [1]);
    fresh.close();
    client.close();
  });

  it('in a timer (no hook call waiting) is stopped once the thread shows no sign of life', async (t) => {
    const client = new RtmpClient();
    await client.connect(url('js'));
    const { ms } = await whileStreaming(t, async () => {
      assert.deepEqual(await client.call('timer'), [true]);
      return waitForLog(/3 \[script\] JS apps of \/js, outside any hook \(a timer, a socket event\): time budget of 1000 ms exceeded/, 5000);
    });
    assert.ok(ms >= TIMEOUT_MS && ms < TIMEOUT_MS + 1500, `stopped after ${ms} ms`);
    const fresh = new RtmpClient();
    await fresh.connect(url('js'));
    assert.deepEqual(await fresh.call('count'), [1]);
    fresh.close();
    client.close();
  });

  it('in a main file that never ends loading fails the load, and the app stays failed until its file changes', async (t) => {
    const { result: first, ms } = await whileStreaming(t, () => rejection(new RtmpClient().connect(url('toploop'))));
    assert.equal(first.info.description, `www/toploop/main.mjs: time budget of ${TIMEOUT_MS} ms exceeded (application.timeout)`);
    assert.ok(ms >= TIMEOUT_MS, `failed after ${ms} ms`);
    const again = await rejection(new RtmpClient().connect(url('toploop')));
    assert.equal(again.info.description, first.info.description);
  });

  it('in onStart leaves the app stopped with that error, without restarting it again and again', async () => {
    const first = await rejection(new RtmpClient().connect(url('startloop')));
    assert.equal(first.info.description, `app /startloop onStart: time budget of ${TIMEOUT_MS} ms exceeded (application.timeout)`);
    const started = logLines.filter((l) => l.includes('Application www/startloop loaded')).length;
    const again = await rejection(new RtmpClient().connect(url('startloop')));
    assert.equal(again.info.description, first.info.description);
    await sleep(300);
    assert.equal(logLines.filter((l) => l.includes('Application www/startloop loaded')).length, started, 'not loaded again');
  });

  it('never stopped the players: the ffmpeg player kept writing, the publisher kept publishing', async () => {
    const size = statSync(out).size;
    assert.ok(size > sizeAtStart, `the ffmpeg player wrote ${size - sizeAtStart} bytes during the runaways`);
    await sleep(1500);
    assert.ok(statSync(out).size > size, 'the ffmpeg player still receives');
    assert.equal(publisher.child.exitCode, null, publisher.stderr());
    assert.equal(ffPlayer.child.exitCode, null, ffPlayer.stderr());
    assert.ok(arrivals.length > 0);
  });
});
