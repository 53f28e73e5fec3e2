import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/ffmpeg.js';
import { rawRequest, startHttpServer } from '../helpers/http.js';
import type { ServerProcess } from '../helpers/serverProcess.js';

/**
 * HTTP PUT through `client:onWrite(file, parameters)` (onRead's answers: nil refuses, a name
 * renames, nothing or a table accepts), from a Lua app and a JS app on a real server process.
 */
const LUA = `
function onConnection(client)
  function client:onWrite(file, params)
    INFO("onWrite ", file, " by=", params.by or "")
    if file == "refused.txt" then return nil end
    if file == "fails.txt" then error("onWrite failed", 0) end
    if file == "renamed.txt" then return "../../escape/target.txt" end
    if file == "props.txt" then return { a = 1 } end
  end
end
`;

const JS = `
export function onConnection(client) {
  client.onWrite = (file, params) => {
    if (file === 'refused.txt') return null;
    if (file === 'renamed.txt') return 'other.txt';
    return undefined;
  };
  client.onRead = (file) => (file === 'secret.txt' ? null : undefined);
}
`;

describe('HTTP PUT and client:onWrite', { timeout: 30_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let base: string;
  let httpPort: number;

  before(async () => {
    dir = tempDir('nimbus-put-');
    for (const app of ['lua', 'js', 'plain']) {
      mkdirSync(join(dir, 'www', app), { recursive: true });
    }
    mkdirSync(join(dir, 'www', 'lua', 'sub'));
    writeFileSync(join(dir, 'www', 'lua', 'main.lua'), LUA);
    writeFileSync(join(dir, 'www', 'js', 'main.js'), JS);
    writeFileSync(join(dir, 'www', 'plain', 'keep.txt'), 'keep');
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside', 'private.txt'), 'private');
    symlinkSync(join(dir, 'outside', 'private.txt'), join(dir, 'www', 'lua', 'link.txt'));
    ({ server, httpPort } = await startHttpServer(['--HTTP.maxBodySize=1000'], dir));
    base = `http://127.0.0.1:${httpPort}`;
  });

  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  const put = (path: string, body: string | Buffer): Promise<Response> => fetch(`${base}${path}`, { method: 'PUT', body });

  it('Lua: accepted writes create (201) then replace (204) the file, which GET then serves', async () => {
    const created = await put('/lua/new.txt?by=me', 'first');
    assert.equal(created.status, 201, await created.text());
    assert.equal(readFileSync(join(dir, 'www', 'lua', 'new.txt'), 'utf8'), 'first');
    await server.waitFor(/onWrite new\.txt by=me/);
    const replaced = await put('/lua/new.txt', 'second');
    assert.equal(replaced.status, 204);
    assert.equal(await (await fetch(`${base}/lua/new.txt`)).text(), 'second');
    assert.equal((await put('/lua/props.txt', 'p')).status, 201);
    assert.equal((await put('/lua/sub/deep.bin', Buffer.from([0, 1, 255]))).status, 201);
    assert.deepEqual([...readFileSync(join(dir, 'www', 'lua', 'sub', 'deep.bin'))], [0, 1, 255]);
    // No temporary file left behind.
    assert.deepEqual(readdirSync(join(dir, 'www', 'lua')).filter((f) => f.endsWith('.part')), []);
  });

  it('Lua: nil refuses (403), an error is a 500, a name renames within the folder only', async () => {
    assert.equal((await put('/lua/refused.txt', 'x')).status, 403);
    assert.equal(existsSync(join(dir, 'www', 'lua', 'refused.txt')), false);
    const failed = await put('/lua/fails.txt', 'x');
    assert.equal(failed.status, 500);
    assert.match(await failed.text(), /onWrite failed/);
    assert.equal((await put('/lua/renamed.txt', 'moved')).status, 201);
    assert.equal(readFileSync(join(dir, 'www', 'lua', 'target.txt'), 'utf8'), 'moved');
    assert.equal(existsSync(join(dir, 'escape')), false);
    assert.equal(existsSync(join(dir, 'www', 'lua', 'renamed.txt')), false);
  });

  it('never writes a folder, an app script, a link out of www/, or a missing folder', async () => {
    assert.equal((await put('/lua/', 'x')).status, 403);
    assert.equal((await put('/lua/sub', 'x')).status, 403);
    assert.equal((await put('/lua/main.lua', 'os.exit()')).status, 403);
    assert.match(readFileSync(join(dir, 'www', 'lua', 'main.lua'), 'utf8'), /onWrite/);
    assert.equal((await put('/lua/link.txt', 'overwritten')).status, 403);
    assert.equal(readFileSync(join(dir, 'outside', 'private.txt'), 'utf8'), 'private');
    // A folder that doesn't exist is an app that doesn't exist.
    assert.equal((await put('/lua/nothere/file.txt', 'x')).status, 404);
    const raw = await rawRequest(httpPort, 'PUT /lua/%2e%2e/outside.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal(existsSync(join(dir, 'www', 'outside.txt')), false);
  });

  it('refuses a body over HTTP.maxBodySize with 413, declared or chunked', async () => {
    assert.equal((await put('/lua/big.txt', Buffer.alloc(1001))).status, 413);
    const chunked = await rawRequest(
      httpPort,
      `PUT /lua/big.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n${'a'.repeat(1000)}\r\n10\r\n${'b'.repeat(16)}\r\n0\r\n\r\n`,
    );
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    assert.equal(existsSync(join(dir, 'www', 'lua', 'big.txt')), false);
    assert.equal((await put('/lua/limit.txt', Buffer.alloc(1000, 97))).status, 201);
  });

  it('JS: the same answers (undefined accepts, null refuses, a name renames)', async () => {
    assert.equal((await put('/js/a.txt', 'js')).status, 201);
    assert.equal(readFileSync(join(dir, 'www', 'js', 'a.txt'), 'utf8'), 'js');
    assert.equal((await put('/js/refused.txt', 'x')).status, 403);
    assert.equal((await put('/js/renamed.txt', 'y')).status, 201);
    assert.equal(readFileSync(join(dir, 'www', 'js', 'other.txt'), 'utf8'), 'y');
  });

  it('JS onRead: returning nothing serves the file (as a Lua hook without return), null refuses', async () => {
    assert.equal((await put('/js/secret.txt', 's')).status, 201);
    const served = await fetch(`${base}/js/a.txt`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), 'js');
    assert.equal((await fetch(`${base}/js/secret.txt`)).status, 403);
  });

  it('an app without onWrite refuses every PUT (405), as MonaServer refuses PUT', async () => {
    const res = await put('/plain/keep.txt', 'changed');
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /GET/);
    assert.equal(readFileSync(join(dir, 'www', 'plain', 'keep.txt'), 'utf8'), 'keep');
    assert.equal((await put('/plain/new.txt', 'x')).status, 405);
  });
});
