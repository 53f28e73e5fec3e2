import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/ffmpeg.js';
import { rawRequest, startHttpServer } from '../helpers/http.js';
import type { ServerProcess } from '../helpers/serverProcess.js';

/**
 * HTTP/1.1 pipelining to a Lua app: several requests written at once on one keep-alive
 * connection (RPC by GET and POST, onRead templates, files), each answered in order, whole, with
 * what its own script call wrote, however long an earlier script took.
 */
const LUA = `
function onConnection(client, parameters)
  INFO("pipelined connection q=", client.query)
  function client:echo(p)
    client.writer:writeMessage("m" .. p.n)
    return "r" .. p.n
  end
  function client:slow(p)
    local t = os.clock()
    while os.clock() - t < 0.3 do end
    client.writer:writeMessage("slow" .. p.n)
    client.properties("c" .. p.n, "v" .. p.n)
    return "s" .. p.n
  end
  function client:set(p)
    value = p.v
    return "set " .. p.v
  end
  function client:get()
    return value
  end
  function client:onRead(file, p)
    if file == "page.html" then return { n = p.n } end
  end
end
`;

/** The same from a JS app, whose hooks answer asynchronously (a worker thread, a promise). */
const JS = `
export function onConnection(client) {
  client.echo = (p) => {
    client.writer.writeMessage('m' + p.n);
    return 'r' + p.n;
  };
  client.slow = async (p) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.writer.writeMessage('slow' + p.n);
    return 's' + p.n;
  };
}
`;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits what came back into HTTP responses (Content-Length or chunked bodies); throws on leftovers. */
const parseAnswers = (bytes: Buffer): Answer[] => {
  const answers: Answer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at);
    assert.ok(end > 0, `an incomplete head: ${bytes.subarray(at).toString('latin1').slice(0, 200)}`);
    const lines = bytes.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1]);
    assert.ok(status > 0, lines[0]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    at = end + 4;
    let body: Buffer;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const eol = bytes.indexOf('\r\n', at);
        const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
        at = eol + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        parts.push(bytes.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      const length = status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 'NaN');
      assert.ok(Number.isFinite(length), `no length: ${lines.join(' | ')}`);
      assert.ok(at + length <= bytes.length, `a truncated body: ${lines[0]}`);
      body = bytes.subarray(at, at + length);
      at += length;
    }
    answers.push({ status, headers, body });
  }
  return answers;
};

describe('HTTP pipelining of script requests', { timeout: 30_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let httpPort: number;
  const big = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 0xff));

  before(async () => {
    dir = tempDir('nimbus-pipeline-');
    const app = join(dir, 'www', 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'main.lua'), LUA);
    writeFileSync(join(app, 'page.html'), '<p><% n %></p>');
    writeFileSync(join(app, 'big.bin'), big);
    mkdirSync(join(dir, 'www', 'js'));
    writeFileSync(join(dir, 'www', 'js', 'main.js'), JS);
    ({ server, httpPort } = await startHttpServer([], dir));
  });

  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  const get = (path: string, last = false): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
  const post = (path: string, body: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const json = (a: Answer): unknown => JSON.parse(a.body.toString('utf8'));

  it('answers pipelined RPCs, onRead templates and files in order, each with its own messages and cookies', async () => {
    const requests = [
      get('/app/slow?n=1'),
      get('/app/echo?n=2'),
      get('/app/page.html?n=3'),
      post('/app/echo', '[{"n":"4"}]'),
      get('/app/big.bin'),
      get('/app/echo?n=6'),
      get('/app/slow?n=7'),
      get('/app/slow?n=7'),
      get('/app/echo?n=9', true),
    ];
    const bytes = Buffer.from(await rawRequest(httpPort, requests.join(''), 15_000), 'latin1');
    const answers = parseAnswers(bytes);
    assert.deepEqual(
      answers.map((a) => a.status),
      requests.map(() => 200),
    );
    assert.deepEqual(json(answers[0]), ['s1', 'slow1']);
    assert.match(answers[0].headers['set-cookie'] ?? '', /^c1=v1/);
    assert.deepEqual(json(answers[1]), ['r2', 'm2']);
    assert.equal(answers[1].headers['set-cookie'], undefined, 'no cookie of another request');
    assert.equal(answers[2].body.toString(), '<p>3</p>');
    assert.deepEqual(json(answers[3]), ['r4', 'm4']);
    assert.ok(answers[4].body.equals(big), 'the whole file');
    assert.deepEqual(json(answers[5]), ['r6', 'm6']);
    assert.deepEqual(json(answers[6]), ['s7', 'slow7']);
    assert.deepEqual(json(answers[7]), ['s7', 'slow7']);
    assert.deepEqual(json(answers[8]), ['r9', 'm9']);
  });

  it('runs pipelined scripts in request order: a POST read first, then the GET after it', async () => {
    const body = '[{"v":"one"}]';
    const requests = [post('/app/set', body), get('/app/get'), post('/app/set', '[{"v":"two"}]'), get('/app/get', true)];
    const answers = parseAnswers(Buffer.from(await rawRequest(httpPort, requests.join('')), 'latin1'));
    assert.deepEqual(answers.map(json), ['set one', 'one', 'set two', 'two']);
  });

  it('JS app: a slow (asynchronous) answer is not overtaken, nor mixed with the next ones', async () => {
    const requests = [get('/js/slow?n=1'), get('/js/echo?n=2'), get('/js/slow?n=3'), get('/js/echo?n=4', true)];
    const answers = parseAnswers(Buffer.from(await rawRequest(httpPort, requests.join('')), 'latin1'));
    assert.deepEqual(answers.map(json), [['s1', 'slow1'], ['r2', 'm2'], ['s3', 'slow3'], ['r4', 'm4']]);
  });

  it('answers a pipelined burst of the same request, every answer whole and in order', async () => {
    const requests = Array.from({ length: 50 }, (_, i) => (i % 10 === 3 ? get('/app/slow?n=x') : get(`/app/echo?n=${i}`, i === 49)));
    const answers = parseAnswers(Buffer.from(await rawRequest(httpPort, requests.join(''), 25_000), 'latin1'));
    assert.equal(answers.length, 50);
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.deepEqual(json(a), i % 10 === 3 ? ['sx', 'slowx'] : [`r${i}`, `m${i}`]);
    });
  });
});
