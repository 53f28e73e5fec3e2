import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { sleep } from '../helpers/inProcess.js';
import { type ServerProcess, startServer } from '../helpers/serverProcess.js';

const write = (file: string, content: string): void => {
  writeFileSync(file, content);
  const later = new Date(Date.now() + 10_000 + Math.random() * 1000);
  utimesSync(file, later, later);
};

const ROOT_V1 = `
function onStart(path) NOTE("version 1 started") end
function onStop(path) NOTE("version 1 stopped") end
function version() return 1 end
function onConnection(client)
  function client:version() return version() end
  return { version = version() }
end
`;

const JS_APP = `
export function onConnection(client, ...args) {
  client.sum = (...values) => values.reduce((a, b) => a + b, 0);
  if (args[0] === 'deny') throw new Error('denied by js');
  return { lang: 'js', path: this.path };
}
`;

describe('application hot reload in a real server process', { timeout: 60_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let port: number;

  before(async () => {
    dir = tempDir('nimbus-reload-');
    mkdirSync(join(dir, 'www/js'), { recursive: true });
    write(join(dir, 'www/main.lua'), ROOT_V1);
    write(join(dir, 'www/js/main.mjs'), JS_APP);
    ({ server, port } = await startServer([`--application.dir=${dir}`]));
    await server.waitFor(/version 1 started/);
  });

  after(async () => {
    assert.equal(await server.stop(), 0);
    assert.match(server.output, /version 2 stopped/, 'onStop runs at server stop');
  });

  it('reloads an edited main.lua while a client stays connected, and rejects with the error of a broken edit', async () => {
    const client = new RtmpClient();
    const info = await client.connect(`rtmp://127.0.0.1:${port}/`);
    assert.equal(info.version, 1);
    assert.deepEqual(await client.call('version'), [1]);

    write(join(dir, 'www/main.lua'), ROOT_V1.replace(/version 1/g, 'version 2').replace('return 1', 'return 2'));
    await server.waitFor(/version 1 stopped[\s\S]*version 2 started/, 10_000);
    assert.deepEqual(await client.call('version'), [2], 'same connection, new code');

    write(join(dir, 'www/main.lua'), 'function onConnection(client)\n  return { version = 3 \nend\n');
    await server.waitFor(/app \/: www\/main\.lua:3:/, 10_000);
    await sleep(2100);
    const broken = new RtmpClient();
    await assert.rejects(broken.connect(`rtmp://127.0.0.1:${port}/`), (err: unknown) => {
      assert.ok(err instanceof RtmpCallError);
      assert.equal(err.info.code, 'NetConnection.Connect.Rejected');
      assert.match(String(err.info.description), /^www\/main\.lua:3: /);
      return true;
    });
    assert.ok(!client.closed, 'the connected client is still connected');

    write(join(dir, 'www/main.lua'), ROOT_V1.replace(/version 1/g, 'version 2').replace('return 1', 'return 2'));
    await sleep(2100);
    const fixed = new RtmpClient();
    assert.equal((await fixed.connect(`rtmp://127.0.0.1:${port}/`)).version, 2);
    fixed.close();
    client.close();
  });

  it('runs a JavaScript app (main.mjs) with the same hooks', async () => {
    const client = new RtmpClient();
    const info = await client.connect(`rtmp://127.0.0.1:${port}/js`);
    assert.equal(info.lang, 'js');
    assert.equal(info.path, '/js');
    assert.deepEqual(await client.call('sum', null, 1, 2, 3), [6]);
    await assert.rejects(new RtmpClient().connect(`rtmp://127.0.0.1:${port}/js`, {}, 'deny'), /Connect.Rejected: denied by js/);
    client.close();
  });
});
