import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { tempDir } from '../helpers/ffmpeg.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { rawRequest, startHttpServer, wsOpen, wsNext } from '../helpers/http.js';
import { type SyntheticPublisher, publishSynthetic } from '../helpers/synthetic.js';
import type { ServerProcess } from '../helpers/serverProcess.js';

/**
 * MonaServer's HTTP app model and WebSocket clients on a real server process, with a Lua app
 * (test/fixtures/http/main.lua) as MonaServer apps write them.
 */
describe('HTTP and WebSocket apps', { timeout: 60_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let base: string;
  let httpPort: number;

  before(async () => {
    dir = tempDir('nimbus-http-');
    const site = join(dir, 'www', 'site');
    mkdirSync(join(site, 'sub'), { recursive: true });
    cpSync(new URL('../fixtures/http/main.lua', import.meta.url), join(site, 'main.lua'));
    writeFileSync(join(site, 'page.html'), '<p>Hello <% who %> over <% protocol %></p>');
    writeFileSync(join(site, 'secret.txt'), 'secret');
    writeFileSync(join(site, 'cookie.txt'), 'cookie');
    writeFileSync(join(site, 'data.bin'), Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff)));
    writeFileSync(join(site, 'sub', 'index.html'), '<p>sub index <% name %></p>');
    writeFileSync(join(site, 'index.html'), '<p>site index</p>');
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside', 'private.txt'), 'top-secret-content');
    symlinkSync(join(dir, 'outside', 'private.txt'), join(site, 'link.txt'));
    symlinkSync(join(dir, 'outside'), join(site, 'linkdir'));
    mkdirSync(join(dir, 'www', 'live'));
    let rtmpPort: number;
    ({ server, httpPort, port: rtmpPort } = await startHttpServer(['--HTTP.timeout=1', '--WebSocket.timeout=2', '--WebSocket.maxPayload=65536', '--HTTP.maxHeaderSize=8192'], dir));
    base = `http://127.0.0.1:${httpPort}`;
    // A healthy HTTP-FLV viewer of a live stream through every attack below.
    await publisher.connect(`rtmp://127.0.0.1:${rtmpPort}/live`);
    feed = publishSynthetic(publisher, await publisher.publish('healthy'), { maxFrames: 3000 });
    viewing = (async () => {
      const res = await fetch(`${base}/live/healthy.flv`, { signal: stopViewing.signal });
      for await (const chunk of res.body!) {
        viewerBytes += (chunk as Uint8Array).length;
      }
    })().catch(() => undefined);
  });

  after(async () => {
    feed?.stop();
    stopViewing.abort();
    await viewing;
    publisher.close();
    assert.equal(await server.stop(), 0, 'server exits 0');
  });

  const publisher = new RtmpClient();
  let feed: SyntheticPublisher | undefined;
  const stopViewing = new AbortController();
  let viewing: Promise<void> | undefined;
  let viewerBytes = 0;
  /** The healthy viewer goes on receiving. */
  const assertViewerFlowing = async (): Promise<void> => {
    const before = viewerBytes;
    const deadline = Date.now() + 3000;
    while (viewerBytes === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(viewerBytes > before, 'the concurrent HTTP-FLV viewer keeps receiving');
  };

  it('serves files with type, validators, 304 and byte ranges', async () => {
    const res = await fetch(`${base}/site/data.bin`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, 1000);
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^W\/"/);
    const again = await fetch(`${base}/site/data.bin`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const since = await fetch(`${base}/site/data.bin`, { headers: { 'If-Modified-Since': res.headers.get('last-modified')! } });
    assert.equal(since.status, 304);
    const range = await fetch(`${base}/site/data.bin`, { headers: { Range: 'bytes=10-19' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), 'bytes 10-19/1000');
    assert.deepEqual([...Buffer.from(await range.arrayBuffer())], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const suffix = await fetch(`${base}/site/data.bin`, { headers: { Range: 'bytes=-3' } });
    assert.deepEqual([...Buffer.from(await suffix.arrayBuffer())], [997 & 0xff, 998 & 0xff, 999 & 0xff]);
    const bad = await fetch(`${base}/site/data.bin`, { headers: { Range: 'bytes=5000-' } });
    assert.equal(bad.status, 416);
    const head = await fetch(`${base}/site/data.bin`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '1000');
  });

  it('applies onRead: nil refuses, a name redirects, a table gives template properties', async () => {
    assert.equal((await fetch(`${base}/site/secret.txt`)).status, 403);
    assert.equal(await (await fetch(`${base}/site/alias.html`)).text(), '<p>Hello alias over HTTP</p>');
    assert.equal(await (await fetch(`${base}/site/page.html?who=ann`)).text(), '<p>Hello ann over HTTP</p>');
    assert.equal(await (await fetch(`${base}/site/sub/?name=bob`)).text(), '<p>sub index bob</p>');
    assert.equal(await (await fetch(`${base}/site/`)).text(), '<p>site index</p>');
  });

  it('answers folders as HTTP.index and onConnection say, 301 for a folder without slash, 404 for the rest', async () => {
    const moved = await fetch(`${base}/site/sub`, { redirect: 'manual' });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get('location'), '/site/sub/');
    assert.equal((await fetch(`${base}/site/nothing.txt`)).status, 404);
    assert.equal((await fetch(`${base}/noapp/file.txt`)).status, 404);
    assert.equal((await fetch(`${base}/site/?index=false`)).status, 403);
    assert.equal((await fetch(`${base}/site/?reject=1`)).status, 403);
  });

  it('calls client methods by GET and POST and answers JSON', async () => {
    assert.deepEqual(await (await fetch(`${base}/site/hello?name=ann`)).json(), 'hello ann');
    const post = await fetch(`${base}/site/add`, { method: 'POST', body: '[2, 40]', headers: { 'Content-Type': 'application/json' } });
    assert.equal(post.status, 200);
    assert.equal(await post.json(), 42);
    const named = await fetch(`${base}/site/`, { method: 'POST', body: '["hello", "bob"]' });
    assert.equal(await named.json(), 'hello bob');
    const failed = await fetch(`${base}/site/fail`, { method: 'POST', body: '[]' });
    assert.equal(failed.status, 500);
    assert.match(await failed.text(), /it failed/);
    const missing = await fetch(`${base}/site/`, { method: 'POST', body: '["nope"]' });
    assert.equal(missing.status, 500);
    assert.match(await missing.text(), /Method client 'nope' not found/);
    const who = (await (await fetch(`${base}/site/whoami`, { headers: { 'User-Agent': 'tester/1', Cookie: 'session=xyz' } })).json()) as Record<string, unknown>;
    assert.deepEqual(who, { protocol: 'HTTP', path: '/site', agent: 'tester/1', cookie: 'xyz' });
    const big = await fetch(`${base}/site/add`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) }).catch(() => null);
    assert.ok(big === null || big.status === 413, 'a body past HTTP.maxBodySize gets 413');
  });

  it('sets cookies through client.properties(key, value, options)', async () => {
    const res = await fetch(`${base}/site/cookie.txt`);
    assert.equal(res.status, 200);
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^session=abc%20123; Expires=.+ GMT; Path=\/site; HttpOnly$/);
  });

  it('answers CORS preflights and names the origin', async () => {
    const pre = await fetch(`${base}/site/add`, { method: 'OPTIONS', headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://example.test');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    const get = await fetch(`${base}/site/data.bin`, { headers: { Origin: 'http://example.test' } });
    assert.equal(get.headers.get('access-control-allow-origin'), 'http://example.test');
  });

  it('never serves a file outside www/: .., %2e%2e, encoded slashes, backslashes, symlinks', async () => {
    for (const path of ['/site/../outside/private.txt', '/site/%2e%2e/%2e%2e/outside/private.txt', '/site/..%2f..%2foutside%2fprivate.txt', '/site/%2E%2E%5Cmain.lua', '/site/link.txt', '/site/linkdir/private.txt', '/site/%00']) {
      const answer = await rawRequest(httpPort, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(!answer.includes('top-secret-content'), `${path} served a private file`);
      assert.match(answer, /^HTTP\/1\.1 (400|403|404) /, `${path}: ${answer.slice(0, 60)}`);
    }
    // The app's own script is a file of www/ like any other (MonaServer serves it too), but never what is beside www/.
    assert.equal((await fetch(`${base}/outside/private.txt`)).status, 404);
    await assertViewerFlowing();
  });

  it('refuses huge headers (431), conflicting lengths (400), and closes slowloris clients (408)', async () => {
    const huge = await rawRequest(httpPort, `GET /site/data.bin HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const smuggle = await rawRequest(httpPort, 'POST /site/add HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /site/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(smuggle, /^HTTP\/1\.1 400 /);
    assert.ok(!smuggle.includes('secret'), 'nothing smuggled through');
    // Slowloris: a header line every 300 ms never finishes the request; HTTP.timeout=1 ends it.
    const started = Date.now();
    const slow = await new Promise<string>((resolve) => {
      const socket = connect(httpPort, '127.0.0.1');
      let got = '';
      let n = 0;
      socket.write('GET /site/data.bin HTTP/1.1\r\nHost: x\r\n');
      const timer = setInterval(() => {
        if (n++ < 40 && !socket.destroyed) {
          socket.write(`X-${n}: y\r\n`);
        }
      }, 300);
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve(got);
      });
    });
    assert.ok(Date.now() - started < 8000, 'the slow client was cut off');
    assert.ok(slow === '' || /^HTTP\/1\.1 408 /.test(slow), slow.slice(0, 40));
    // The server goes on.
    assert.equal((await fetch(`${base}/site/data.bin`)).status, 200);
    await assertViewerFlowing();
  });

  it('answers garbage with 400 and goes on serving', async () => {
    for (const garbage of [randomBytes(2000), Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'), Buffer.from('GET / HTTP/9.9\r\n\r\n'), Buffer.from('GET /site/data.bin HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n')]) {
      const answer = await rawRequest(httpPort, garbage);
      assert.ok(answer === '' || /^HTTP\/1\.1 (400|505) /.test(answer), answer.slice(0, 40));
    }
    const upgrade = await rawRequest(httpPort, 'GET /site HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(upgrade, /^HTTP\/1\.1 400 /, 'an upgrade without a key');
    assert.equal((await fetch(`${base}/site/data.bin`)).status, 200);
    await assertViewerFlowing();
  });

  it('protects the API with HTTP.apiToken when set: 401 without or with a bad token', async () => {
    const { server: guarded, httpPort: guardedPort } = await startHttpServer(['--HTTP.apiToken=s3cret'], dir);
    try {
      const url = `http://127.0.0.1:${guardedPort}/api/v1/server`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${guardedPort}/metrics`)).status, 401);
      const ok = await fetch(url, { headers: { Authorization: 'Bearer s3cret' } });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { name: string }).name, 'nimbus');
      assert.equal((await fetch(`http://127.0.0.1:${guardedPort}/health`)).status, 200, '/health stays open');
    } finally {
      assert.equal(await guarded.stop(), 0);
    }
  });

  it('runs WebSocket clients: JSON RPC, writeInvocation/writeMessage, bytes kept as bytes', async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${httpPort}/site?x=1`);
    try {
      ws.send(JSON.stringify(['add', 20, 22]));
      assert.deepEqual(await wsNext(ws), [42]);
      ws.send(JSON.stringify(['whoami']));
      const [who] = (await wsNext(ws)) as [Record<string, unknown>];
      assert.equal(who.protocol, 'WebSocket');
      assert.equal(who.path, '/site');
      ws.send(JSON.stringify(['echoBack', 'a', 1, { b: true }]));
      assert.deepEqual(await wsNext(ws), ['onEcho', 'a', 1, { b: true }]);
      assert.deepEqual(await wsNext(ws), ['direct']);
      ws.send(JSON.stringify(['fail']));
      const [name, info] = (await wsNext(ws)) as [string, Record<string, unknown>];
      assert.equal(name, '_error');
      assert.equal(info.code, 'NetConnection.Call.Failed');
      assert.equal(info.description, 'it failed');
      ws.send(Buffer.from([1, 2, 3, 0xff]));
      const reversed = await wsNext(ws, true);
      assert.deepEqual([...(reversed as Buffer)], [0xff, 3, 2, 1]);
      ws.send(JSON.stringify(['qos']));
      const [qos] = (await wsNext(ws)) as [Record<string, number>];
      assert.equal(typeof qos.latency, 'number');
    } finally {
      ws.close();
    }
  });

  it('closes a refused WebSocket with 1008, an oversized message with 1009, a silent peer after WebSocket.timeout', async () => {
    const refused = new WebSocket(`ws://127.0.0.1:${httpPort}/site?reject=1`);
    const [code, reason] = await new Promise<[number, string]>((resolve) => refused.on('close', (c, r) => resolve([c, r.toString()])));
    assert.equal(code, 1008);
    assert.match(reason, /rejected by the app/);

    const big = await wsOpen(`ws://127.0.0.1:${httpPort}/site`);
    const bigClosed = new Promise<number>((resolve) => big.on('close', (c) => resolve(c)));
    big.send(Buffer.alloc(100_000));
    assert.equal(await bigClosed, 1009);

    // Fragments that add up past maxPayload are refused the same way.
    const fragmented = await wsOpen(`ws://127.0.0.1:${httpPort}/site`);
    const fragClosed = new Promise<number>((resolve) => fragmented.on('close', (c) => resolve(c)));
    for (let i = 0; i < 5; i++) {
      fragmented.send(Buffer.alloc(20_000), { fin: i === 4 });
    }
    assert.equal(await fragClosed, 1009);

    // A peer that answers no ping (ws answers pings itself, so its socket is paused): closed by the server.
    const silent = await wsOpen(`ws://127.0.0.1:${httpPort}/site`);
    const silentClosed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    const socket = (silent as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const started = Date.now();
    await server.waitFor(/no message nor pong for 2000 ms \(MS_ERR_SESSION_TIMEOUT\)/, 8000);
    assert.ok(Date.now() - started < 6000, 'closed after about WebSocket.timeout');
    socket.resume();
    await silentClosed;
    await assertViewerFlowing();
  });
});
