import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { hasFfmpeg, makeTestFlv, tempDir } from '../../helpers/ffmpeg.js';
import { frameCount, probe } from '../../helpers/ffprobe.js';
import { type FlvTag, assertSamePayloads, mediaTags, parseFlv, readFlv } from '../../helpers/flv.js';
import { type Harness, harness, hooksRan, logs } from './kit.js';

const skip = hasFfmpeg() ? false : 'ffmpeg not installed';

/** A Lua app whose publications are written by a media writer of the format named like them ("flv", "mp2t"...). */
const LUA_APP = `
function onConnection(client)
  function client:onPublish(publication)
    local w = mona:createMediaWriter(publication.name)
    local parts = {}
    function publication:onVideo(time, packet) parts[#parts + 1] = w:write(2, time, packet) end
    function publication:onAudio(time, packet) parts[#parts + 1] = mona.write(w, 1, time, packet) end
    function client:bytes()
      parts[#parts + 1] = w:flush()
      return table.concat(parts), w.format, tostring(w), #parts
    end
  end
  function client:badTrack()
    local ok, err = pcall(function() return mona:createMediaWriter("flv"):write(5, 0, "x") end)
    return ok, err
  end
  function client:record(name, file)
    local ok, err = pcall(function() return mona:createMediaWriter("flv"):record(mona.publications[name], file) end)
    return ok, err
  end
  function client:collect()
    for i = 1, 200 do mona:createMediaWriter("mp4") end
    collectgarbage()
    collectgarbage()
    local w = mona:createMediaWriter("ts")
    return w.format
  end
end
mona.write = function(w, ...) return w:write(...) end
`;

const JS_APP = `
export function onConnection(client) {
  const mona = this.mona;
  client.onPublish = (publication) => {
    const w = mona.createMediaWriter(publication.name.slice(3));
    const parts = [];
    publication.onVideo = (time, packet) => parts.push(w.write(2, time, packet));
    publication.onAudio = (time, packet) => parts.push(w.write(1, time, packet));
    client.bytes = () => { parts.push(w.flush()); return [Buffer.concat(parts), w.format]; };
  };
}`;

describe('mona:createMediaWriter', { skip }, () => {
  let source: FlvTag[];
  let dir: string;

  before(() => {
    dir = tempDir('nimbus-writer-');
    source = readFlv(makeTestFlv(join(dir, 'source.flv'), 2));
  });

  /** Publishes the source as `name` through the harness and returns what `client:bytes()` answers. */
  const written = async (h: Harness, name: string): Promise<readonly unknown[]> => {
    const client = h.client();
    await h.connect(client);
    const publication = await h.core.publish(client, name);
    for (const tag of source) {
      publication.push(new MediaFrame(tag.type as FrameKind, tag.timestamp, tag.payload));
    }
    await hooksRan();
    await hooksRan();
    const values = await h.core.call(client, 'bytes', []);
    h.core.unpublish(publication);
    return values;
  };

  it('writes FLV (MonaServer: the header with the first packet, then a tag per packet), every payload unchanged', async () => {
    const h = await harness({ 'www/main.lua': LUA_APP });
    const [bytes, format, name] = await written(h, 'flv');
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(format, 'flv');
    assert.equal(name, 'mediaWriter flv');
    const tags = parseFlv(bytes);
    assertSamePayloads(source, tags);
    assert.deepEqual(tags.map((t) => t.timestamp), mediaTags(source).map((t) => t.timestamp));
    h.host.stop();
  });

  for (const [type, formatName, codecs] of [['mp2t', 'mpegts', ['h264', 'aac']], ['mp4', 'mov,mp4,m4a,3gp,3g2,mj2', ['h264', 'aac']]] as const) {
    it(`writes ${type} that ffprobe reads: codecs, every frame`, async () => {
      const h = await harness({ 'www/main.lua': LUA_APP });
      const [bytes, format] = await written(h, type);
      assert.ok(Buffer.isBuffer(bytes));
      assert.equal(format, type === 'mp2t' ? 'ts' : 'mp4');
      if (type === 'mp2t') {
        assert.equal(bytes.length % 188, 0);
        assert.equal(bytes[0], 0x47);
      } else {
        assert.equal(bytes.toString('latin1', 4, 8), 'ftyp');
      }
      const file = join(dir, `lua.${format as string}`);
      writeFileSync(file, bytes);
      const p = probe(file);
      const expected = probe(join(dir, 'source.flv'));
      assert.equal(p.formatName, formatName);
      assert.deepEqual(p.streams.map((s) => s.codec_name), codecs);
      assert.equal(frameCount(p, 'video'), frameCount(expected, 'video'));
      assert.ok(Math.abs(frameCount(p, 'audio') - frameCount(expected, 'audio')) <= 1, `audio frames ${frameCount(p, 'audio')} of ${frameCount(expected, 'audio')}`);
      assert.ok(Math.abs(p.duration - expected.duration) < 0.15, `duration ${p.duration} s, source ${expected.duration} s`);
      h.host.stop();
    });
  }

  it('fails a bad track as a Lua error; a bad record name and recording off are errors too', async () => {
    const h = await harness({ 'www/main.lua': LUA_APP }, { 'application.recordDir': 'off' });
    const client = h.client();
    await h.connect(client);
    const [ok, err] = await h.core.call(client, 'badTrack', []);
    assert.equal(ok, false);
    assert.match(String(err), /track 5 is neither 1 \(audio\) nor 2 \(video\)/);
    await h.core.publish(client, 'any');
    const [ok1, err1] = await h.core.call(client, 'record', ['any', 'x']);
    assert.equal(ok1, false);
    assert.match(String(err1), /recording is off \(application\.recordDir\)/);
    h.host.stop();
    const h2 = await harness({ 'www/main.lua': LUA_APP });
    const c2 = h2.client();
    await h2.connect(c2);
    await h2.core.publish(c2, 'any');
    const [ok2, err2] = await h2.core.call(c2, 'record', ['any', '../escape']);
    assert.equal(ok2, false);
    assert.match(String(err2), /"\.\.\/escape" cannot name a recording/);
    assert.ok(!existsSync(join(h2.dir, 'escape.flv')));
    h2.host.stop();
  });

  it('forgets the writers Lua collected', async () => {
    const h = await harness({ 'www/main.lua': LUA_APP });
    const client = h.client();
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'collect', []), ['ts']);
    assert.ok(!logs.some((l) => /not a media writer/.test(l)));
    h.host.stop();
  });

  it('is there for JS apps too', async () => {
    const h = await harness({ 'www/main.js': JS_APP });
    const [[bytes, format]] = (await written(h, 'js-flv')) as [[Buffer, string]];
    assert.equal(format, 'flv');
    assertSamePayloads(source, parseFlv(bytes));
    const [[ts]] = (await written(h, 'js-ts')) as [[Buffer]];
    assert.equal(ts.length % 188, 0);
    h.host.stop();
  });
});
