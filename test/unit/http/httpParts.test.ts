import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { Core } from '../../../src/core/Core.js';
import { DefaultHooks } from '../../../src/core/ServerHooks.js';
import { ApiRoutes } from '../../../src/http/api/ApiRoutes.js';
import { Metrics } from '../../../src/http/api/Metrics.js';
import { StatsApi, type StatsSource } from '../../../src/http/api/StatsApi.js';
import { withSession } from '../../../src/http/live/HlsPlayback.js';
import { formatSetCookie, parseCookies, parseRequestPath } from '../../../src/http/requestPath.js';
import { applyTemplate, parseRange } from '../../../src/http/StaticFiles.js';
import { RateMeter } from '../../../src/media/RateMeter.js';

/** Just what ApiRoutes touches of a response. */
class FakeResponse {
  statusCode = 200;
  headersSent = false;
  headers: Record<string, unknown> = {};
  body = '';
  setHeader(name: string, value: unknown): void {
    this.headers[name.toLowerCase()] = value;
  }
  end(body?: Buffer | string): void {
    this.headersSent = true;
    this.body = body === undefined ? '' : body.toString();
  }
  destroy(): void {}
}

const request = (remoteAddress: string, headers: Record<string, string> = {}): IncomingMessage =>
  ({ method: 'GET', headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

describe('HTTP request targets', () => {
  it('splits folder, file and query, decoding each segment once', () => {
    const t = parseRequestPath('/a/b%20c/file.html?x=1&y=%20')!;
    assert.deepEqual([t.path, t.file, t.query, t.parameters], ['/a/b c', 'file.html', 'x=1&y=%20', { x: '1', y: ' ' }]);
    assert.deepEqual(parseRequestPath('/a/./b/')!.segments, ['a', 'b']);
    assert.equal(parseRequestPath('/a/')!.file, '');
    assert.equal(parseRequestPath('/')!.path, '');
  });

  it('refuses what would leave the root or cannot be decoded', () => {
    for (const url of ['/a/../b', '/a/%2e%2e/b', '/a/%2E%2E', '/a%2fb', '/a%5cb', '/a/%00', '/bad%zz', 'http://x/a', '']) {
      assert.equal(parseRequestPath(url), null, url);
    }
  });

  it('reads cookies and writes Set-Cookie values', () => {
    assert.deepEqual(parseCookies('a=1; b="two words"; c=one=1&two=2; bad; =x; d=%41'), { a: '1', b: 'two words', c: 'one=1&two=2', d: 'A' });
    assert.match(formatSetCookie('s', 'v v', { path: '/p', secure: true, httponly: true, expires: 60 }), /^s=v%20v; Expires=.* GMT; Path=\/p; Secure; HttpOnly$/);
    assert.throws(() => formatSetCookie('bad name', 'x'), TypeError);
    assert.equal(formatSetCookie('s', 'x', { path: '/a; Secure' }), 's=x', 'no attribute injection');
  });

  it('parses single byte ranges and refuses unsatisfiable ones', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), [0, 9]);
    assert.deepEqual(parseRange('bytes=90-', 100), [90, 99]);
    assert.deepEqual(parseRange('bytes=-10', 100), [90, 99]);
    assert.deepEqual(parseRange('bytes=95-200', 100), [95, 99]);
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,5-6', 100), null, 'several ranges: the whole file');
    assert.equal(parseRange('bytes=9-1', 100), null);
  });

  it("fills MonaServer's templates", () => {
    assert.equal(applyTemplate('<p><% a %>,<%b%>,<% missing %>,<% t %></p>', { a: 1, b: 'x', t: { k: true } }), '<p>1,x,,{"k":true}</p>');
  });

  it('puts the HLS session on every URI of a playlist', () => {
    const playlist = '#EXTM3U\n#EXT-X-MAP:URI="s.init.mp4"\n#EXT-X-PART:DURATION=0.5,URI="s.1.0.m4s"\n#EXTINF:1.0,\ns.1.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s.2.1.m4s?x=1"\n';
    assert.equal(
      withSession(playlist, 'ID'),
      '#EXTM3U\n#EXT-X-MAP:URI="s.init.mp4?hls_session=ID"\n#EXT-X-PART:DURATION=0.5,URI="s.1.0.m4s?hls_session=ID"\n#EXTINF:1.0,\ns.1.m4s?hls_session=ID\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s.2.1.m4s?x=1&hls_session=ID"\n',
    );
  });
});

describe('rate meter', () => {
  it('gives bytes per second per kind and frames per second over the last seconds', () => {
    const meter = new RateMeter();
    let now = 1_000_000;
    for (let i = 0; i < 100; i++) {
      meter.add(9, 1000, now);
      meter.add(8, 100, now);
      now += 40;
    }
    const [audio, video, data, fps] = meter.rates(now);
    assert.ok(Math.abs(video - 25_000) < 2500, `video ${video}`);
    assert.ok(Math.abs(audio - 2500) < 250, `audio ${audio}`);
    assert.equal(data, 0);
    assert.ok(Math.abs(fps - 25) < 2.5, `fps ${fps}`);
    assert.deepEqual(meter.rates(now + 60_000).map((r) => Math.round(r)), [0, 0, 0, 0], 'nothing lately: zero');
  });
});

describe('API access', () => {
  const core = new Core(new DefaultHooks(), { gopCache: true, gopCacheMaxBytes: 1 << 20, subscriberQueueBytes: 1 << 20, subscriberTimeoutMs: 1000 });
  const source: StatsSource = { core, mesh: null, version: '1.2.3', workerThreads: 0, sessions: () => ({ RTMP: 0 }) };
  const stats = new StatsApi(source);
  const metrics = new Metrics(source);

  it('answers loopback only when there is no token', async () => {
    const api = new ApiRoutes(stats, metrics, '');
    const outside = new FakeResponse();
    assert.equal(await api.handle(request('192.0.2.7'), outside as unknown as ServerResponse, '/api/v1/server'), true);
    assert.equal(outside.statusCode, 403);
    const local = new FakeResponse();
    await api.handle(request('::ffff:127.0.0.1'), local as unknown as ServerResponse, '/api/v1/server');
    assert.equal(local.statusCode, 200);
    assert.equal((JSON.parse(local.body) as { version: string }).version, '1.2.3');
    const health = new FakeResponse();
    await api.handle(request('192.0.2.7'), health as unknown as ServerResponse, '/health');
    assert.equal(health.statusCode, 200, '/health is open');
    assert.equal(await api.handle(request('127.0.0.1'), new FakeResponse() as unknown as ServerResponse, '/live/x.flv'), false, 'not an API path');
  });

  it('wants the bearer token from anywhere when one is set', async () => {
    const api = new ApiRoutes(stats, metrics, 'tok');
    for (const [headers, status] of [[{}, 401], [{ authorization: 'Bearer nope' }, 401], [{ authorization: 'Bearer tok' }, 200]] as const) {
      const res = new FakeResponse();
      await api.handle(request('192.0.2.7', headers), res as unknown as ServerResponse, '/metrics');
      assert.equal(res.statusCode, status, JSON.stringify(headers));
    }
  });
});
