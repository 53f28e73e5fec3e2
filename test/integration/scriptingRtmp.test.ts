import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPlay, ffmpegPublish, hasFfmpeg, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { mediaTags, readFlv } from '../helpers/flv.js';
import { logLines, sleep, startInProcess, waitForLog } from '../helpers/inProcess.js';
import { aacSequenceHeader, avcSequenceHeader } from '../helpers/synthetic.js';

const fixture = fileURLToPath(new URL('../fixtures/apps/rtmp', import.meta.url));

const rejection = async (promise: Promise<unknown>): Promise<RtmpCallError> => {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RtmpCallError, String(err));
    return err;
  }
  throw new Error('expected a rejection');
};

describe('Lua applications over RTMP', { timeout: 120_000 }, () => {
  let server: Server;
  let url: (p: string) => string;

  before(async () => {
    ({ server, url } = await startInProcess({ 'application.dir': fixture, 'application.timeout': '0.5' }));
  });

  after(async () => {
    await server.stop();
  });

  it('puts the table onConnection returns into the connect response and client.parameters', async () => {
    const client = new RtmpClient();
    const info = await client.connect(url('?user=bob'), {}, 'a', 2);
    assert.equal(info.code, 'NetConnection.Connect.Success');
    assert.equal(info.greeting, 'hello bob', 'client.user falls back to the URL query property');
    assert.equal(info.timeout, 30);
    assert.equal(info.args, 2);
    const core = [...server.core.clients.values()].find((c) => c.properties.user === 'bob')!;
    assert.equal(core.parameters.greeting, 'hello bob');
    client.close();
  });

  it('rejects with Connect.Rejected and the message, InvalidApp for a missing folder, the Lua error for a broken script', async () => {
    const rejected = await rejection(new RtmpClient().connect(url('reject')));
    assert.equal(rejected.info.code, 'NetConnection.Connect.Rejected');
    assert.equal(rejected.info.description, 'go away');
    const invalid = await rejection(new RtmpClient().connect(url('nowhere')));
    assert.equal(invalid.info.code, 'NetConnection.Connect.InvalidApp');
    assert.equal(invalid.info.description, "Application /nowhere doesn't exist");
    const broken = await rejection(new RtmpClient().connect(url('broken')));
    assert.equal(broken.info.code, 'NetConnection.Connect.Rejected');
    assert.match(String(broken.info.description), /^www\/broken\/main\.lua:3: '}' expected \(to close '\{' at line 2\) near 'end'/);
    const loop = await rejection(new RtmpClient().connect(url('loop')));
    assert.match(String(loop.info.description), /app \/loop onConnection: time budget of 500 ms exceeded/);
    // The server keeps serving everyone else.
    const ok = new RtmpClient();
    assert.equal((await ok.connect(url('empty'))).code, 'NetConnection.Connect.Success');
    ok.close();
  });

  it('disconnects a client whose RPC runs past application.timeout, after its Call.Failed; the others go on', async () => {
    const culprit = new RtmpClient();
    await culprit.connect(url('spin'));
    const bystander = new RtmpClient();
    await bystander.connect(url('spin'));
    const failed = await rejection(culprit.call('spin'));
    assert.equal(failed.info.code, 'NetConnection.Call.Failed');
    assert.match(String(failed.info.description), /app \/spin spin: time budget of 500 ms exceeded/);
    for (const deadline = Date.now() + 3000; !culprit.closed; ) {
      assert.ok(Date.now() < deadline, 'the culprit was disconnected');
      await sleep(20);
    }
    assert.deepEqual(await bystander.call('ping'), ['pong']);
    // Loopback is never refused for it (application.limitStrikes): the same machine connects again.
    const again = new RtmpClient();
    assert.equal((await again.connect(url('spin'))).code, 'NetConnection.Connect.Success');
    again.close();
    bystander.close();
  });

  it('serves a sub-app through super.onConnection and an empty folder through its parent', async () => {
    const sub = new RtmpClient();
    const info = await sub.connect(url('sub?user=ann'));
    assert.equal(info.greeting, 'hello ann');
    assert.equal(info.sub, 'sub');
    sub.close();
    const empty = new RtmpClient();
    assert.equal((await empty.connect(url('empty'))).greeting, 'hello anonymous');
    empty.close();
  });

  it('answers RPC with _result, and Call.Failed for an error or an unknown method; writer:writeInvocation reaches the client', async () => {
    const client = new RtmpClient();
    await client.connect(url('empty'));
    assert.deepEqual(await client.call('add', null, 2, 3), [5]);
    const binary = randomBytes(300);
    const [echoed] = await client.call('echo', null, binary.toString('latin1'));
    assert.equal(echoed, binary.toString('latin1'));
    await assert.rejects(client.call('fail'), /NetConnection.Call.Failed: failed on purpose/);
    await assert.rejects(client.call('nothing'), /NetConnection.Call.Failed: Method client 'nothing' not found in application \/empty/);
    const pong = new Promise<unknown[]>((resolve) => client.once('invoke', (_name: string, args: unknown[]) => resolve(args)));
    assert.deepEqual(await client.call('ping'), [true]);
    assert.deepEqual(await withTimeout(pong, 5000, 'pong'), ['hi', 42]);
    client.close();
  });

  it('answers Publish.BadName when onPublish returns false and Play.Failed when onSubscribe errs or refuses', async () => {
    const client = new RtmpClient();
    await client.connect(url('empty'));
    await assert.rejects(client.publish('nopub1'), /NetStream.Publish.BadName: Not allowed to publish nopub1/);
    await assert.rejects(client.play('secret'), /NetStream.Play.Failed: Not for you/);
    await assert.rejects(client.play('refused'), /NetStream.Play.Failed: Not authorized to play refused/);
    client.close();
  });

  it('relays a publication with onVideo/onAudio + mona:publish + pushVideo: the player gets every byte', async () => {
    const frames: Array<{ type: number; time: number; payload: Buffer }> = [];
    const player = new RtmpClient({ onMedia: (type, time, payload) => (type === 8 || type === 9) && frames.push({ type, time, payload: Buffer.from(payload) }) });
    await player.connect(url('empty'));
    await player.play('relay-a-copy');
    const publisher = new RtmpClient();
    await publisher.connect(url('empty'));
    const id = await publisher.publish('relay-a');
    const sent: Array<{ type: number; time: number; payload: Buffer }> = [
      { type: 9, time: 0, payload: avcSequenceHeader },
      { type: 8, time: 0, payload: aacSequenceHeader },
    ];
    for (let i = 0; i < 60; i++) {
      const video = randomBytes(200 + i * 50);
      video[0] = i % 20 === 0 ? 0x17 : 0x27;
      video[1] = 1;
      const audio = randomBytes(100);
      audio[0] = 0xaf;
      audio[1] = 1;
      sent.push({ type: 9, time: i * 40, payload: video }, { type: 8, time: i * 40, payload: audio });
    }
    for (const f of sent) {
      publisher.writeMedia(id, f.type, f.time, f.payload);
    }
    await withTimeout((async () => { while (frames.length < sent.length) { await sleep(20); } })(), 10_000, `relayed frames (${frames.length}/${sent.length})`);
    for (let i = 0; i < sent.length; i++) {
      assert.equal(frames[i].type, sent[i].type, `frame ${i} type`);
      assert.equal(frames[i].time, sent[i].time, `frame ${i} time`);
      assert.ok(frames[i].payload.equals(sent[i].payload), `frame ${i} bytes`);
    }
    publisher.close();
    await player.waitStatus(1, ['NetStream.Play.UnpublishNotify'], 5000);
    player.close();
  });

  it('relays ffmpeg to ffmpeg through a Lua copy, byte for byte', { skip: !hasFfmpeg() }, async () => {
    const dir = tempDir();
    const source = makeTestFlv(join(dir, 'source.flv'), 3, 25);
    const out = join(dir, 'copy.flv');
    const player = ffmpegPlay(url('empty/relay-ff-copy'), out);
    await waitForLog(/playing relay-ff-copy/);
    const publisher = ffmpegPublish(source, url('empty/relay-ff'), false);
    assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
    assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
    const sent = mediaTags(readFlv(source));
    const got = mediaTags(readFlv(out));
    assert.equal(got.length, sent.length, 'every audio and video tag');
    got.forEach((t, i) => assert.ok(t.payload.equals(sent[i].payload), `tag ${i} bytes`));
  });

  it('ffmpeg shows the message of an onConnection error', { skip: !hasFfmpeg() }, async () => {
    const dir = tempDir();
    const source = makeTestFlv(join(dir, 's.flv'), 1, 25);
    const publisher = ffmpegPublish(source, url('reject/s'), false);
    assert.notEqual(await withTimeout(publisher.exited, 20_000, 'ffmpeg'), 0);
    assert.match(publisher.stderr(), /go away/);
  });

  it('runs the seed scripts: the relay seed accepts, counts subscribers and publishes; the NetGroup seed loads', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(url('seed'));
    const id = await publisher.publish('seeded');
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    const player = new RtmpClient();
    await player.connect(url('seed'));
    await player.play('seeded');
    await waitForLog(/Subscription of client 127\.0\.0\.1:\d+ \(_subscribers=0\)/);
    assert.ok(logLines.some((l) => /Connection of a new client on 127\.0\.0\.1/.test(l)), 'INFO with mona.configs["host"]');
    player.close();
    publisher.close();
    const grouped = new RtmpClient();
    assert.equal((await grouped.connect(url('seed2'))).code, 'NetConnection.Connect.Success');
    grouped.close();
    assert.deepEqual(await server.apps!.onHandshake({ protocol: 'RTMFP', address: '1.2.3.4:5', path: '/seed2', properties: {}, attempts: 1 }), []);
  });
});
