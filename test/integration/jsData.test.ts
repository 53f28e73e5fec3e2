import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { startInProcess } from '../helpers/inProcess.js';

/** JS apps' persistent `data` (this.data / this.mona.data): synchronous reads and writes from the worker, kept across a restart. */
const APP = `
export function onConnection(client) {
  client.write = () => {
    this.data.name = 'nimbus';
    this.data.n = 10;
    this.data.on = true;
    this.data.bytes = Buffer.from([1, 2, 3]);
    this.data.sub = { a: 'x', b: { c: 'deep' }, skipped: undefined };
    this.data.gone = 'soon';
    delete this.data.gone;
    this.data.also = 'soon';
    this.data.also = undefined;
    this.mona.data.viaMona = 'yes';
    return [this.data.name, this.data.sub.b.c, this.data.sub === this.data.sub, 'gone' in this.data];
  };
  client.read = () => {
    const d = this.data;
    return [Object.keys(d), d.name, d.n, d.on, [...d.bytes], JSON.parse(JSON.stringify(d.sub)), d.viaMona, d.gone ?? null];
  };
  client.bad = () => { this.data.f = () => 1; };
  client.child = () => this.data.kid.own;
}
`;
const CHILD = `
export function onConnection(client) { this.data.own = 'child'; }
`;

describe('JS apps: persistent data', { timeout: 60_000 }, () => {
  const dir = tempDir('nimbus-jsdata-');
  mkdirSync(join(dir, 'www/store/kid'), { recursive: true });
  writeFileSync(join(dir, 'www/store/main.js'), APP);
  writeFileSync(join(dir, 'www/store/kid/main.js'), CHILD);
  let server: Server | null = null;

  after(async () => {
    await server?.stop();
  });

  const call = async (url: (path: string) => string, path: string, method?: string): Promise<unknown> => {
    const client = new RtmpClient();
    await client.connect(url(path));
    try {
      return method === undefined ? null : await client.call(method);
    } finally {
      client.close();
    }
  };

  it('reads see writes at once, per app subtree; undefined and delete remove; what was written survives a restart', async () => {
    let url: (path: string) => string;
    ({ server, url } = await startInProcess({ 'application.dir': dir }));
    assert.deepEqual(await call(url, 'store', 'write'), [['nimbus', 'deep', true, false]]);
    await call(url, 'store/kid');
    assert.deepEqual(await call(url, 'store', 'child'), ['child'], "a child app's data is its parent's data.<name>");
    await assert.rejects(call(url, 'store', 'bad'), /data: cannot store a function/);
    await server.stop();
    server = null;

    ({ server, url } = await startInProcess({ 'application.dir': dir }));
    assert.deepEqual(await call(url, 'store', 'read'), [
      [['bytes', 'kid', 'n', 'name', 'on', 'sub', 'viaMona'], 'nimbus', 10, true, [1, 2, 3], { a: 'x', b: { c: 'deep' } }, 'yes', null],
    ]);
  });
});
