import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { capture, harness, hooksRan, logs } from './kit.js';

describe('JavaScript apps', () => {
  it('runs main.js hooks with the same objects: connect fields, RPC, rejection, inheritance', async () => {
    const h = await harness({
      'www/main.js': `
        export function onConnection(client, ...args) {
          if (args[0] === 'no') throw new Error('not you');
          client.add = (a, b) => a + b;
          client.whoami = function () { return [this.id.length, this.path, this.properties.token]; };
          return { greeting: 'hello', app: this.path };
        }`,
      'www/child/main.mjs': `
        export default {
          async onConnection(client, ...args) {
            const fields = await this.super.hook('onConnection')(client, ...args);
            return { ...fields, child: this.name };
          },
        };`,
    });
    const c = h.client('', { token: 'abc' });
    assert.deepEqual(await h.connect(c), { greeting: 'hello', app: '' });
    assert.equal(c.parameters.greeting, 'hello');
    assert.deepEqual(await h.core.call(c, 'add', [2, 3]), [5]);
    assert.deepEqual(await h.core.call(c, 'whoami', []), [[64, '', 'abc']]);
    await assert.rejects(h.core.call(c, 'missing', []), /Method client 'missing' not found in application \//);
    await assert.rejects(h.connect(h.client(), 'no'), /not you/);
    assert.deepEqual(await h.connect(h.client('/child')), { greeting: 'hello', app: '', child: 'child' });
    h.host.stop();
  });

  it('relays media byte-exact with onVideo/onAudio and mona.publish', async () => {
    const h = await harness({
      'www/main.js': `
        export function onConnection(client) {
          client.relay = (name) => {
            const copy = globalThis.mona_copy = this.mona.publish(name + '-copy');
            const source = this.mona.publications.get(name);
            source.onVideo = (time, packet) => copy.pushVideo(time, packet);
            source.onAudio = (time, packet) => copy.pushAudio(time, packet);
            return copy !== null;
          };
        }`,
    });
    const c = h.client();
    await h.connect(c);
    const source = await h.core.publish(null, 'src');
    assert.equal(source.feed.outputCount, 0, 'no hook, no tap');
    assert.deepEqual(await h.core.call(c, 'relay', ['src']), [true]);
    const copy = h.core.publication('src-copy')!;
    const got = capture(copy, (f) => f.payload);
    const sent = Array.from({ length: 50 }, (_, i) => randomBytes(10 + i * 13));
    sent.forEach((payload, i) => source.push(new MediaFrame(i % 2 === 0 ? FrameKind.VIDEO : FrameKind.AUDIO, i, payload)));
    // The hooks run in the apps' worker: the copies come back a few turns later.
    await hooksRan();
    for (const deadline = Date.now() + 5000; got.length < sent.length && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(got.length, sent.length);
    sent.forEach((payload, i) => assert.ok(got[i].equals(payload)));
    h.host.stop();
  });

  it('logs an exception thrown in an app timer and goes on; JS app trees do not share globals', async () => {
    const h = await harness({
      'www/a/main.mjs': `
        export function onConnection(client) {
          client.boom = () => { setTimeout(() => { throw new Error('kaboom'); }, 0); globalThis.mark = 'a'; return 1; };
          client.mark = () => globalThis.mark ?? null;
        }`,
      'www/b/main.mjs': 'export function onConnection(client) { client.mark = () => globalThis.mark ?? null; }',
    });
    const a = h.client('/a');
    await h.connect(a);
    assert.deepEqual(await h.core.call(a, 'boom', []), [1]);
    for (const deadline = Date.now() + 5000; !logs.some((l) => l.includes('kaboom')) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(logs.some((l) => /JS apps of \/a: Error: kaboom/.test(l)), 'the exception is logged');
    assert.deepEqual(await h.core.call(a, 'mark', []), ['a'], 'the thread went on, state kept');
    const b = h.client('/b');
    await h.connect(b);
    assert.deepEqual(await h.core.call(b, 'mark', []), [null], 'another tree, another thread');
    h.host.stop();
  });

  it('records a publication through a media writer (the recording runs on the main thread)', async () => {
    const h = await harness({
      'www/main.mjs': `
        export function onConnection(client) {
          client.record = (name, file) => {
            client.writer_ = this.mona.createMediaWriter('flv');
            const path = client.writer_.record(this.mona.publications.get(name), file);
            return [path, client.writer_.recording];
          };
          client.stop = () => { client.writer_.close(); return client.writer_.recording; };
        }`,
    });
    const c = h.client();
    await h.connect(c);
    const source = await h.core.publish(null, 'rec');
    const [[file, recording]] = (await h.core.call(c, 'record', ['rec', 'js-rec'])) as [[string, boolean]];
    assert.equal(file, join(h.dir, 'records/js-rec.flv'));
    assert.equal(recording, true);
    source.push(new MediaFrame(FrameKind.VIDEO, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 2, 3])));
    assert.deepEqual(await h.core.call(c, 'stop', []), [false]);
    for (const deadline = Date.now() + 5000; !(existsSync(file) && readFileSync(file).length > 13) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(readFileSync(file).toString('latin1', 0, 3), 'FLV');
    h.host.stop();
  });

  it('fails an async hook that outlives the time budget, and reloads an edited main.js', async () => {
    const h = await harness({
      // .mjs: under the tsx loader (tests only) a reloaded .js file would come from tsx's cache.
      'www/main.mjs': `
        export async function onConnection(client, mode) {
          if (mode === 'slow') await new Promise((r) => setTimeout(r, 1000));
          return { v: 1 };
        }`,
    }, { 'application.timeout': '0.1' });
    await assert.rejects(h.connect(h.client(), 'slow'), /app \/ onConnection: time budget of 100 ms exceeded/);
    assert.deepEqual(await h.connect(h.client()), { v: 1 });
    const main = join(h.dir, 'www/main.mjs');
    writeFileSync(main, 'export function onConnection() { return { v: 2 }; }');
    const later = new Date(Date.now() + 5000);
    utimesSync(main, later, later);
    h.host.tree.root.lastCheck = 0;
    assert.deepEqual(await h.connect(h.client()), { v: 2 });
    writeFileSync(main, 'export function onConnection( {');
    const later2 = new Date(Date.now() + 10000);
    utimesSync(main, later2, later2);
    h.host.tree.root.lastCheck = 0;
    await assert.rejects(h.connect(h.client()), /SyntaxError/);
    h.host.stop();
  });
});
