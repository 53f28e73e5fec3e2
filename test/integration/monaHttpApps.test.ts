import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startHttpServer } from '../helpers/http.js';
import type { ServerProcess } from '../helpers/serverProcess.js';

/**
 * MonaServer's own FunctionalTests HTTP apps, unchanged (test/fixtures/mona-functional), driven by
 * the requests of its ActionScript tests (Cookies.as, HTTPIndex.as) with the same checks.
 */
describe("MonaServer's FunctionalTests HTTP apps", { timeout: 30_000 }, () => {
  let server: ServerProcess;
  let httpPort: number;
  let base: string;

  before(async () => {
    ({ server, httpPort } = await startHttpServer([], fileURLToPath(new URL('../fixtures/mona-functional/', import.meta.url))));
    base = `http://127.0.0.1:${httpPort}/FunctionalTests/`;
  });

  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  it('Cookies: the cookies sent are client properties, client.properties(key, value, options) sets them', async () => {
    // Cookies.as (its request line has no HTTP version, which Node's parser refuses: the rest is as it sends it).
    const cookies = [[
      { key: 'cookie1', value: 'thisisastring', expires: 86400, secure: false, httponly: false, path: '/' },
      { key: 'cookie2', value: 30, expires: 60, secure: true, httponly: true, path: '/test/test' },
    ]];
    const params = JSON.stringify(cookies);
    let message = 'POST /FunctionalTests/cookies/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type:application/json\r\n';
    message += 'Cookie: sendCookie1=Marcel Pagnol; sendCookie2=Charles-Pierre Baudelaire; sendCookie3=one=1&two=2\r\n';
    message += `Content-Length: ${params.length}\r\n\r\n${params}`;
    const result = await rawRequest(httpPort, message);
    assert.match(result, /^HTTP\/1\.1 200 /, result.slice(0, 300));
    const headers = result.match(/Set-Cookie: .*/g) ?? [];
    assert.equal(headers.length, 2, result);
    cookies[0].forEach((cookie, i) => {
      assert.ok(headers[i].startsWith(`Set-Cookie: ${cookie.key}=${cookie.value}`), headers[i]);
      assert.equal(headers[i].includes('HttpOnly'), cookie.httponly, headers[i]);
      assert.equal(headers[i].includes('Secure'), cookie.secure, headers[i]);
      assert.ok(headers[i].includes(`Path=${cookie.path}`), headers[i]);
    });
    await server.waitFor(/writeCookies result : true/);
  });

  it('HTTPIndex: index default (true) 200, false 403, true 200, "file.txt" serves it', async () => {
    assert.equal((await fetch(`${base}HTTPIndex/`)).status, 200);
    assert.equal((await fetch(`${base}HTTPIndex/IndexFalse/`)).status, 403);
    assert.equal((await fetch(`${base}HTTPIndex/IndexTrue/`)).status, 200);
    const file = await fetch(`${base}HTTPIndex/IndexFile/`);
    assert.equal(file.status, 200);
    assert.equal(await file.text(), 'one line file');
  });
});
