import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawRequest, wsNext, wsOpen } from '../helpers/http.js';
import { APP, type FunctionalServer, asEquals, closedAfter, sleep, startFunctionalServer } from './monaFunctionalKit.js';

/**
 * MonaServer's FunctionalTests (FunctionalTests/src/HTTP/*.as, WebSocket/*.as, Other/Deserialization*.as,
 * commit 8180130034affae576b9a58cd415b33f6ccdaa9d) in TypeScript, against its www tree unchanged
 * (test/fixtures/mona-functional): each test sends what the .as sends and checks what it checks. Cookies.as
 * and HTTPIndex.as are in monaHttpApps.test.ts. Load tests run bounded (correctness, not speed).
 *
 * Differences from MonaServer that show here (README, "MonaServer's HTTP apps"):
 * - an RPC answer is the JSON of the values returned, one value as itself: MonaServer writes every answer as a
 *   JSON array of the values (`[v]` for one);
 * - a POST body that is not JSON goes to `client:onMessage(body)` as bytes: MonaServer reads form bodies
 *   (`application/x-www-form-urlencoded`) as a query and XML-RPC bodies (`text/xml`) as XML-RPC, and answers in
 *   the request's format;
 * - a request line needs its HTTP version (and HTTP/1.1 a Host header): Node's parser answers 400 to the
 *   `POST /FunctionalTests/ \r\n` lines of HTTPAggregated.as and HTTPSplitted.as.
 */

/** Bounded stand-in for the .as files' NB_LOAD_TESTS (100). */
const LOAD = 50;

/** Flex's HTTPService POST of an object: a form body. resultFormat "flashvars" reads the answer as a query. */
const postForm = async (url: string, form: Record<string, string>): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });

const postText = async (url: string, contentType: string, body: string): Promise<{ status: number; text: string }> => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, text: await response.text() };
};

/**
 * Nimbus's answer to a form POST to the root app (its onMessage returns what it got): the body as bytes, answered as
 * a JSON string. Read as the query it is, it gives the parameters the .as checks.
 */
const formAnswer = async (response: Response): Promise<URLSearchParams> => {
  assert.equal(response.status, 200);
  const body: unknown = JSON.parse(await response.text());
  assert.equal(typeof body, 'string');
  return new URLSearchParams(body as string);
};

describe("MonaServer's FunctionalTests: HTTP, WebSocket and deserialization", { timeout: 90_000 }, () => {
  let s: FunctionalServer;

  before(async () => {
    s = await startFunctionalServer();
  });

  after(async () => {
    assert.equal(await s.server.stop(), 0);
  });

  it("root main.lua: its socket policy file server on port 843 answers Flash's request", async () => {
    // The FunctionalTests app (its main.lua) loads with its first client.
    assert.equal((await fetch(s.http())).status, 200);
    await s.server.waitFor(/Starting server policy file on port 843 : true/);
    // Another process serving this tree (monaHttpApps.test.ts) may hold the port: the answer is the same.
    const answer = await rawRequest(843, '<policy-file-request/>\0', 2000);
    assert.equal(answer, '<cross-domain-policy><allow-access-from domain="*" secure="false" to-ports="*"/></cross-domain-policy>\0');
  });

  it('HTTPLoad: POST requests with 2 parameters, each answered with them', async () => {
    for (let i = 0; i <= LOAD; i++) {
      const result = await formAnswer(await postForm(s.http(), { var1: 'value1', var2: 'value2' }));
      // Difference (README): MonaServer answers the form as a query (var1=value1&var2=value2), Nimbus as the
      // JSON string of the body it handed to onMessage.
      assert.ok(result.get('var1') === 'value1' || result.get('var2') === 'value2', result.toString());
    }
  });

  it('HTTPReconnect: connect and reconnect in app and child app', async () => {
    let url = s.http();
    for (let i = 0; i <= LOAD; i++) {
      const result = await formAnswer(await postForm(url, { var1: 'value1' }));
      assert.equal(result.get('var1'), 'value1', url);
      url = url === s.http() ? s.http('subapp/') : s.http();
    }
    await s.server.waitFor(/NOTE .*\/FunctionalTests\/subapp/);
  });

  it('HTTPBadRequests: 10 "TESTBADREQUESTS" then 10 "\\x20\\x0A\\x00\\xFF\\x0A", each connection closed by the server', async () => {
    for (const bytes of [Buffer.from('TESTBADREQUESTS'), Buffer.from([0x20, 0x0a, 0x00, 0xff, 0x0a])]) {
      for (let i = 0; i < 10; i++) {
        assert.equal(await closedAfter(s.httpPort, bytes), true, `request ${i} of ${bytes.toString('hex')}`);
      }
    }
    // The server is still there.
    assert.equal((await fetch(s.http('HTTPIndex/'))).status, 200);
  });

  it('HTTPAggregated: three HTTP requests in the same packet, three answers in order', async () => {
    const message = (body: string, line = `POST ${APP} `): string => `${line}\r\nContent-Type:application/json\r\nContent-Length:7\r\n\r\n${body}`;
    // As the .as sends it: no HTTP version in the request lines (difference, README): 400 and closed.
    const verbatim = await rawRequest(s.httpPort, message('[1,2,3]') + message('[4,5,6]') + message('[7,8,9]'));
    assert.match(verbatim, /^HTTP\/1\.1 400 /);
    // With the version and Host the parser needs, the rest as it sends it.
    const line = `POST ${APP} HTTP/1.1\r\nHost: 127.0.0.1`;
    const answer = await rawRequest(s.httpPort, message('[1,2,3]', line) + message('[4,5,6]', line) + message('[7,8,9]', `${line}\r\nConnection: close`));
    assert.deepEqual(answer.match(/(\[.*\])/g), ['[1,2,3]', '[4,5,6]', '[7,8,9]'], answer);
  });

  it('HTTPSplitted: a request sent in 4 parts, answered once it is whole', async () => {
    const parts = (first: string): string[] => [first, ' \r\nContent-Type:applica', 'tion/json\r\nContent-Length:7\r\n', '\r\n[1,2,3]'];
    const send = (chunks: string[]): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(s.httpPort, '127.0.0.1');
        let got = '';
        socket.on('error', () => undefined);
        socket.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n') && /\r\n\r\n.+/s.test(got)) {
            socket.destroy();
          }
        });
        socket.on('close', () => resolve(got));
        socket.on('connect', () => {
          void (async () => {
            for (const chunk of chunks) {
              socket.write(chunk);
              // The .as waits 2 s between parts; 300 ms is as split for the server.
              await sleep(300);
            }
          })();
        });
      });
    // As sent (difference, README): the request line has no version, 400.
    assert.match(await send(parts(`POST ${APP}`)), /^HTTP\/1\.1 400 /);
    const answer = await send(parts(`POST ${APP} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Line: `));
    assert.equal(answer.split('\r\n\r\n')[1], '[1,2,3]', answer);
  });

  it('BigDeserialize: a big JSON request (15001 values) comes back the same', async () => {
    const message = `[${Array.from({ length: 15001 }, (_, i) => i).join(',')}]`;
    const { status, text } = await postText(s.http(), 'application/json', message);
    assert.equal(status, 200);
    assert.equal(text, message);
  });

  it('Query: a complex HTTP query (onMessage?longquery://test;:/one%*$^/fin=value~)', async () => {
    // Sent as Flash sends it (fetch would normalise nothing here, a raw request is exact).
    const answer = await rawRequest(s.httpPort, `GET ${APP}onMessage?longquery://test;:/one%*$^/fin=value~ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    // MonaServer: [{"longquery://test;:/one%*$^/fin":"value~"}]; Nimbus answers one value as itself (README).
    assert.equal(answer.split('\r\n\r\n')[1], '{"longquery://test;:/one%*$^/fin":"value~"}');
  });

  it('WebSocketLoad: requests with 2 parameters over one WebSocket, each answered with them', async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${s.httpPort}${APP}`);
    try {
      for (let i = 0; i <= LOAD; i++) {
        ws.send('[[{"var1":"value1","var2":"value2"}]]');
        const response = (await wsNext(ws)) as Array<Array<Record<string, unknown>>>;
        assert.equal(response[0][0].var1, 'value1');
        assert.equal(response[0][0].var2, 'value2');
      }
    } finally {
      ws.close();
    }
  });

  it('DeserializationJSON: JSON data sent comes back equal', async () => {
    const messages = [
      '[{"x":10,"y":10,"width":100,"height":100}]',
      '[[10,10,100,100]]',
      '[[{"x":10,"y":10},100,100]]',
      '[[100,100,{"x":10,"y":10}]]',
      '[[{"x":[100,100],"y":[10,10]}]]',
      '[[{"x":[{"y":[10,10]},15]},25]]',
    ];
    for (const original of messages) {
      const { status, text } = await postText(s.http(), 'application/json', original);
      assert.equal(status, 200);
      // Each message is one value: MonaServer answers [value], Nimbus the value itself (README).
      const expected = (JSON.parse(original) as unknown[])[0];
      const result: unknown = JSON.parse(text);
      assert.ok(asEquals(result, expected) && asEquals(expected, result), `expected ${JSON.stringify(expected)}, got ${text}`);
    }
  });

  it(
    'DeserializationXMLRPC: XML-RPC requests answered in XML-RPC',
    {},
    async () => {
      const cases: Array<{ msg: string[]; expected?: string[]; or?: string[] }> = [
        { msg: ['<boolean>1</boolean>'] },
        { msg: ['<double>-12.53</double>'] },
        { msg: ['<i4>123456789</i4>'], expected: ['<int>123456789</int>'] },
        // Difference: a base64 value reaches the script as a Lua string, and a string goes back as <string>
        // (MonaServer keeps a binary mark on it and answers base64).
        { msg: ['<base64>eW91IGNhbid0IHJlYWQgdGhpcyE=</base64>'], expected: ["<string>you can't read this!</string>"] },
        { msg: ['<string>Hello world!</string>'] },
        // Difference (README: the serializers escape what they write): the bare "&" read as text is written back as &amp;.
        { msg: ['<string>&~#{[||;`^@]}=)àç_è-(\'"é&^$*ù!:;,</string>'], expected: ['<string>&amp;~#{[||;`^@]}=)àç_è-(\'"é&amp;^$*ù!:;,</string>'] },
        // Difference: the date comes back as the same instant, written in UTC (it reaches Lua as MonaServer's
        // date table, __time beside its calendar fields).
        { msg: ['<dateTime.iso8601>2014-04-22T06:00:00.000+02:00</dateTime.iso8601>'], expected: ['<dateTime.iso8601>2014-04-22T04:00:00.000Z</dateTime.iso8601>'] },
        { msg: ['<array size="3"><data><value><int>1</int></value><value><int>2</int></value><value><int>3</int></value></data></array>'] },
        { msg: ['<int>1</int>', '<int>2</int>', '<int>3</int>'] },
        // The members come back in the order the Lua table lists them: Lua 5.4 seeds its string hashes per state
        // (README: Lua 5.4), so either order.
        {
          msg: ['<struct><member><name>x1</name><value><int>1</int></value></member><member><name>x2</name><value><int>2</int></value></member></struct>'],
          or: ['<struct><member><name>x2</name><value><int>2</int></value></member><member><name>x1</name><value><int>1</int></value></member></struct>'],
        },
      ];
      const params = (values: string[]): string => values.map((v) => `<param><value>${v}</value></param>`).join('');
      const response = (values: string[]): string => `<?xml version="1.0"?><methodResponse><params>${params(values)}</params></methodResponse>`;
      for (const { msg, expected, or } of cases) {
        const { text } = await postText(s.http(), 'text/xml', `<?xml version="1.0"?><methodCall><methodName>onMessage</methodName><params>${params(msg)}</params></methodCall>`);
        if (or !== undefined && text === response(or)) {
          continue;
        }
        assert.equal(text, response(expected ?? msg));
      }
    },
  );
});
