import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPublish, hasFfmpeg, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { frameCount, probe } from '../helpers/ffprobe.js';
import { type FlvTag, assertSamePayloads, mediaTags, parseFlv, readFlv } from '../helpers/flv.js';
import { logLines, startInProcess, waitForLog } from '../helpers/inProcess.js';
import { startRtmfpServer } from '../helpers/rtmfpServer.js';

const skip = hasFfmpeg() ? false : 'ffmpeg not installed';

/** Publishes every tag of an FLV file on a NetStream opened with `publish(name, type)`, then unpublishes. */
const publishTags = async (url: string, name: string, type: string, tags: readonly FlvTag[]): Promise<void> => {
  const client = new RtmpClient();
  await client.connect(url);
  try {
    const id = await client.publish(name, type);
    for (const tag of tags) {
      client.writeMedia(id, tag.type, tag.timestamp, tag.payload);
    }
    client.streamCommand(id, 'closeStream');
    await client.waitStatus(id, ['NetStream.Unpublish.Success']);
  } finally {
    client.close();
  }
};

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Resolves once the recording of `file` is written and closed (its "recorded" log line). */
const recorded = (file: string): Promise<string> => waitForLog(new RegExp(`recorded .* to ${escape(file)}: `), 15_000);

describe('recording publications (NetStream publish "record" / "append")', { skip, timeout: 120_000 }, () => {
  let server: Server;
  let url: (p: string) => string;
  let dir: string;
  let records: string;
  let source: FlvTag[];
  let sourceFile: string;

  before(async () => {
    dir = tempDir('nimbus-record-');
    records = join(dir, 'records');
    sourceFile = makeTestFlv(join(dir, 'source.flv'), 4);
    source = readFlv(sourceFile);
    ({ server, url } = await startInProcess({ 'application.dir': dir }));
  });

  after(async () => {
    await server.stop();
  });

  it('records the publication to <recordDir>/<name>.flv byte for byte, and ffprobe reads its duration', async () => {
    await publishTags(url('live'), 'show', 'record', source);
    const file = join(records, 'show.flv');
    await recorded(file);
    const got = readFlv(file);
    assertSamePayloads(source, got);
    // The decoder configurations and the metadata are there too, before the first frame.
    assert.deepEqual(got.slice(0, 3).map((t) => t.type).sort((a, b) => a - b), [8, 9, 18]);
    assert.deepEqual(mediaTags(got).map((t) => t.timestamp), mediaTags(source).map((t) => t.timestamp), 'timestamps kept');
    const p = probe(file);
    const expected = probe(sourceFile);
    assert.ok(Math.abs(p.duration - expected.duration) < 0.1, `duration ${p.duration} s, source ${expected.duration} s`);
    assert.equal(frameCount(p, 'video'), frameCount(expected, 'video'));
    assert.equal(frameCount(p, 'audio'), frameCount(expected, 'audio'));
  });

  it('"append" adds a second publication after the first, its timestamps going on', async () => {
    await publishTags(url('live'), 'serial', 'record', source);
    const file = join(records, 'serial.flv');
    await recorded(file);
    const firstSize = statSync(file).size;
    await publishTags(url('live'), 'serial', 'append', source);
    await waitForLog(new RegExp(`recording serial to ${escape(file)} \\(appending after \\d+ ms\\)`));
    const done = new RegExp(`recorded serial to ${escape(file)}: \\d+ frames, \\d+ bytes`);
    const deadline = Date.now() + 15_000;
    while (logLines.filter((l) => done.test(l)).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const appended = Number(/(\d+) bytes$/.exec(logLines.filter((l) => done.test(l))[1] ?? '')?.[1]);
    assert.equal(statSync(file).size, firstSize + appended, 'the second recording added to the file');
    const got = readFlv(file);
    assertSamePayloads([...source, ...source], got);
    const video = got.filter((t) => t.type === 9).map((t) => t.timestamp);
    for (let i = 1; i < video.length; i++) {
      assert.ok(video[i] >= video[i - 1], `video timestamps go on: ${video[i - 1]} then ${video[i]}`);
    }
    const lastOfFirst = Math.max(...mediaTags(source).map((t) => t.timestamp));
    const firstOfSecond = mediaTags(got)[mediaTags(source).length].timestamp;
    assert.ok(firstOfSecond > lastOfFirst && firstOfSecond <= lastOfFirst + 50, `second part starts at ${firstOfSecond} ms, the first ended at ${lastOfFirst} ms`);
    const p = probe(file);
    const single = probe(sourceFile).duration;
    assert.ok(Math.abs(p.duration - 2 * single) < 0.2, `duration ${p.duration} s, two of ${single} s`);
    assert.equal(frameCount(p, 'video'), 2 * frameCount(probe(sourceFile), 'video'));
  });

  it('records over RTMFP too (the NetStream logic is shared)', async () => {
    const rtmfp = await startRtmfpServer({ 'application.dir': dir, 'RTMP.port': '0' });
    const client = new RtmfpClient();
    try {
      await client.connect(rtmfp.rtmfp('live'));
      const id = await client.publish('over-rtmfp', 'record');
      for (let i = 0; i < source.length; i++) {
        client.writeMedia(id, source[i].type, source[i].timestamp, source[i].payload);
        if (i % 10 === 9) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      client.streamCommand(id, 'closeStream');
      await client.waitStatus(id, ['NetStream.Unpublish.Success']);
      const file = join(records, 'over-rtmfp.flv');
      await recorded(file);
      assertSamePayloads(source, readFlv(file));
    } finally {
      client.close();
      await rtmfp.server.stop();
    }
  });

  it('"live" (the default) records nothing', async () => {
    await publishTags(url('live'), 'nothing', 'live', source.slice(0, 20));
    const client = new RtmpClient();
    await client.connect(url('live'));
    const id = await client.publish('nothing2');
    client.writeMedia(id, 9, 0, source.find((t) => t.type === 9)!.payload);
    client.close();
    assert.ok(!existsSync(join(records, 'nothing.flv')));
    assert.ok(!existsSync(join(records, 'nothing2.flv')));
  });

  it('refuses a name that could leave the folder with Publish.BadName, and writes nothing outside', async () => {
    const before = readdirSync(dir).sort();
    for (const name of ['../x', 'a/../../x', '..', '/tmp/x', 'a\\..\\x', '.hidden', 'a//b', 'c:x', 'a\u0001b']) {
      const client = new RtmpClient();
      await client.connect(url('live'));
      try {
        await client.publish(name, 'record');
        assert.fail(`${JSON.stringify(name)} was accepted`);
      } catch (err) {
        assert.ok(err instanceof RtmpCallError, String(err));
        assert.equal(err.info.code, 'NetStream.Publish.BadName', name);
        assert.match(String(err.info.description), /cannot name a recording/);
      } finally {
        client.close();
      }
    }
    assert.deepEqual(readdirSync(dir).sort(), before);
    assert.ok(!existsSync(join(dir, 'x.flv')) && !existsSync('/tmp/x.flv'));
    // A subfolder inside is fine.
    await publishTags(url('live'), 'shows/monday', 'record', source.slice(0, 30));
    await recorded(join(records, 'shows', 'monday.flv'));
  });

  it('a recording that cannot be written stops with one log line; the publication and its player go on', async () => {
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'a file where the folder should be');
    const other = await startInProcess({ 'application.dir': dir, 'application.recordDir': blocked, 'RTMP.workers': '0' });
    try {
      const received: number[] = [];
      const player = new RtmpClient({ onMedia: (type) => received.push(type) });
      await player.connect(other.url('live'));
      await player.play('broken');
      await publishTags(other.url('live'), 'broken', 'record', source);
      await waitForLog(/recording broken to .*blocked\/broken\.flv (stopped|failed): .*EEXIST/);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(logLines.filter((l) => /recording broken to .* (stopped|failed): /.test(l)).length, 1, 'logged once');
      const deadline = Date.now() + 5000;
      while (received.filter((t) => t === 8 || t === 9).length < mediaTags(source).length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(received.filter((t) => t === 8 || t === 9).length, mediaTags(source).length, 'the player got every frame');
      player.close();
    } finally {
      await other.server.stop();
    }
  });
});

const LUA_APP = `
function onConnection(client)
  function client:onPublish(publication)
    if publication.name ~= "scripted" then return end
    -- Nimbus: the writer records the publication itself, in the background.
    for _, format in ipairs({ "flv", "mp4", "mp2t" }) do
      mona:createMediaWriter(format):record(publication, "lua/" .. publication.name)
    end
    -- MonaServer: write() gives the container bytes, the script keeps them.
    local flv, parts = mona:createMediaWriter("flv"), {}
    function publication:onVideo(time, packet) parts[#parts + 1] = flv:write(2, time, packet) end
    function publication:onAudio(time, packet) parts[#parts + 1] = flv:write(1, time, packet) end
    written = parts
  end
  function client:written()
    local s, hex = table.concat(written), {}
    for i = 1, #s, 1000 do
      local chunk = s:sub(i, i + 999)
      hex[#hex + 1] = string.format(string.rep("%02x", #chunk), chunk:byte(1, -1))
    end
    return table.concat(hex)
  end
end
`;

describe('mona:createMediaWriter in a Lua app, ffmpeg publishing', { skip, timeout: 120_000 }, () => {
  let server: Server;
  let url: (p: string) => string;
  let dir: string;
  let sourceFile: string;

  before(async () => {
    dir = tempDir('nimbus-record-lua-');
    mkdirSync(join(dir, 'www', 'live'), { recursive: true });
    writeFileSync(join(dir, 'www', 'live', 'main.lua'), LUA_APP);
    sourceFile = makeTestFlv(join(dir, 'source.flv'), 4);
    ({ server, url } = await startInProcess({ 'application.dir': dir }));
  });

  after(async () => {
    await server.stop();
  });

  it('records FLV (byte for byte), MP4 and MPEG-TS files ffprobe reads with every frame, and write() gives the FLV bytes', async () => {
    const publisher = ffmpegPublish(sourceFile, url('live/scripted'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'ffmpeg publish'), 0, publisher.stderr());
    const folder = join(dir, 'records', 'lua');
    for (const ext of ['flv', 'mp4', 'ts']) {
      await recorded(join(folder, `scripted.${ext}`));
    }
    const source = readFlv(sourceFile);
    const expected = probe(sourceFile);
    assertSamePayloads(source, readFlv(join(folder, 'scripted.flv')));
    for (const [ext, formatName] of [['flv', 'flv'], ['mp4', 'mov,mp4,m4a,3gp,3g2,mj2'], ['ts', 'mpegts']]) {
      const p = probe(join(folder, `scripted.${ext}`));
      assert.equal(p.formatName, formatName);
      assert.deepEqual(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264'], ext);
      assert.equal(frameCount(p, 'video'), frameCount(expected, 'video'), `${ext} video frames`);
      assert.ok(Math.abs(frameCount(p, 'audio') - frameCount(expected, 'audio')) <= 1, `${ext} audio frames: ${frameCount(p, 'audio')} of ${frameCount(expected, 'audio')}`);
      assert.ok(Math.abs(p.duration - expected.duration) < 0.15, `${ext} duration ${p.duration} s, source ${expected.duration} s`);
    }
    const client = new RtmpClient();
    await client.connect(url('live'));
    const [hex] = await client.call('written');
    client.close();
    assertSamePayloads(source, parseFlv(Buffer.from(String(hex), 'hex')));
  });
});
