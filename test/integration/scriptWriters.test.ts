import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { AmfReader } from '../../src/amf/index.js';
import type { RtmpMessage } from '../../src/protocols/rtmp/RtmpChunkReader.js';
import { tcMetadata } from '../../src/protocols/rtmfp/tcMessage.js';
import type { Server } from '../../src/Server.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { startInProcess, waitForLog } from '../helpers/inProcess.js';
import { until } from '../helpers/rtmfpServer.js';
import { freePort } from '../helpers/serverProcess.js';
import { freeUdpPort } from '../helpers/udp.js';

/**
 * The writer API from a Lua app (MonaServer's LUAWriter, Cumulus's LUAFlowWriter), driven by real
 * RTMP, RTMFP, WebSocket and HTTP clients that decode what arrives.
 */
const APP = `
function onConnection(client)
  function client:writeAll()
    local w = client.writer
    w:writeInvocation("inv", 1, "two")
    w:writeAMFMessage("amf", { a = 1 })
    w:writeMessage("msg", 3)
    return w:flush(), w:flush()
  end
  function client:raw(...) client.writer:writeRaw(...) end
  function client:rawRtmp() client.writer:writeRaw("\\0\\255\\1\\2\\0\\3", "\\0\\255\\128\\129") end
  function client:rawRtmfp() client.writer:writeRaw("\\4\\0\\0\\0\\0\\0\\255\\1", "xy") end
  function client:open()
    local w = client.writer:newWriter()
    subWriter = w
    w:writeInvocation("fromSub", 1)
    w:writeRaw("\\4\\0\\0\\0\\0\\0\\255sub")
    return w ~= client.writer, w.reliable, client.writer:newFlowWriter() ~= w
  end
  function client:closeSub()
    subWriter:writeInvocation("lastOfSub")
    subWriter:close()
    client.writer:writeInvocation("afterSubClose")
    return subWriter:flush()
  end
  function client:writeClosedSub() subWriter:writeInvocation("never") end
  function client:rawBad() client.writer:writeRaw("ok", {}) end
  function client:invokeBad() client.writer:writeInvocation({}) end
  function client:bye()
    client.writer:writeInvocation("first")
    client.writer:flush()
    client.writer:writeInvocation("second")
    client.writer:close()
  end
  function client:closedWrite()
    client.writer:close()
    client.writer:writeInvocation("never")
  end
  function client:same() return client.writer:newWriter() == client.writer end
  function client:rawAnswer() client.writer:writeRaw("raw ", "answer") end
end
`;

const RAW_RTMP = Buffer.from([0x00, 0xff, 0x01, 0x02, 0x00, 0x03]);

const collect = (client: RtmpClient | RtmfpClient): Array<[string, unknown[]]> => {
  const got: Array<[string, unknown[]]> = [];
  client.on('invoke', (name: string, args: unknown[]) => got.push([name, args]));
  return got;
};

/** AMF0 values of a command message body (RTMP type 20 or 17). */
const commandValues = (msg: RtmpMessage): unknown[] => new AmfReader(msg.payload, msg.type === 17 ? 1 : 0).readAllAmf0();

for (const workers of ['0', '2']) {describe(`script writers, RTMFP.workers=${workers}`, { timeout: 60_000 }, () => {
  let server: Server;
  let url: (path: string) => string;
  let rtmfpPort: number;
  let httpPort: number;

  before(async () => {
    const dir = tempDir('nimbus-writers-');
    mkdirSync(join(dir, 'www/writers'), { recursive: true });
    writeFileSync(join(dir, 'www/writers/main.lua'), APP);
    rtmfpPort = await freeUdpPort();
    httpPort = await freePort();
    ({ server, url } = await startInProcess({ 'application.dir': dir, 'RTMFP.port': String(rtmfpPort), 'RTMFP.workers': workers, 'HTTP.port': String(httpPort) }));
  });

  after(async () => {
    await server.stop();
  });

  describe('RTMP', () => {
    it('writeInvocation, writeAMFMessage and writeMessage are NetConnection calls; flush tells what was written', async () => {
      const client = new RtmpClient();
      await client.connect(url('writers'));
      const got = collect(client);
      const result = await client.call('writeAll');
      assert.deepEqual(result, [true, false], 'flush: true after writes, false with nothing new');
      await until(() => got.length >= 3);
      assert.deepEqual(got, [
        ['inv', [1, 'two']],
        ['amf', [{ a: 1 }]],
        ['onMessage', ['msg', 3]],
      ]);
      client.close();
    });

    it('writeRaw: each argument is the body of one User Control message on chunk stream 2, unchanged', async () => {
      const client = new RtmpClient();
      await client.connect(url('writers'));
      const raws: RtmpMessage[] = [];
      client.on('message', (m: RtmpMessage) => m.type === 4 && m.payload[1] === 0xff && raws.push({ ...m, payload: Buffer.from(m.payload) }));
      await client.call('rawRtmp');
      await until(() => raws.length >= 2);
      assert.deepEqual(raws.map((m) => [m.csid, m.streamId, m.payload.toString('hex')]), [
        [2, 0, RAW_RTMP.toString('hex')],
        [2, 0, '00ff8081'],
      ]);
      client.close();
    });

    it('newWriter writes on a chunk stream of its own and closes alone', async () => {
      const client = new RtmpClient();
      await client.connect(url('writers'));
      const commands: RtmpMessage[] = [];
      client.on('message', (m: RtmpMessage) => (m.type === 20 || m.type === 17) && commands.push({ ...m, payload: Buffer.from(m.payload) }));
      const got = collect(client);
      const opened = await client.call('open');
      assert.deepEqual(opened, [true, true, true], 'a new writer, reliable, and another one each call');
      await until(() => got.some(([n]) => n === 'fromSub'));
      const sub = commands.find((m) => commandValues(m)[0] === 'fromSub')!;
      assert.ok(sub.csid >= 7, `sub-writer on csid ${sub.csid}`);
      const closed = await client.call('closeSub');
      assert.deepEqual(closed, [false], 'a closed writer flushes nothing');
      await until(() => got.some(([n]) => n === 'afterSubClose'));
      assert.deepEqual(got.map(([n]) => n).filter((n) => n !== '_result'), ['fromSub', 'lastOfSub', 'afterSubClose']);
      assert.equal(commands.find((m) => commandValues(m)[0] === 'lastOfSub')!.csid, sub.csid);
      assert.equal(commands.find((m) => commandValues(m)[0] === 'afterSubClose')!.csid, 3, 'the main writer keeps chunk stream 3');
      await assert.rejects(client.call('writeClosedSub'), /www\/writers\/main\.lua:\d+: writer:writeInvocation: this writer is closed/);
      client.close();
    });

    it('misuse is a script error at the script line', async () => {
      const client = new RtmpClient();
      await client.connect(url('writers'));
      await assert.rejects(client.call('rawBad'), /www\/writers\/main\.lua:27: writer:writeRaw\(\.\.\.\): argument #2 is a table, expected a string of bytes/);
      await assert.rejects(client.call('invokeBad'), /www\/writers\/main\.lua:28: writer:writeInvocation\(name, \.\.\.\): the name must be a string/);
      client.close();
    });

    it('close: what was written before reaches the client, then the connection ends', async () => {
      const client = new RtmpClient();
      await client.connect(url('writers'));
      const got = collect(client);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      void client.call('bye').catch(() => undefined);
      await closed;
      assert.deepEqual(got.map(([n]) => n), ['first', 'second']);
    });
  });

  describe('RTMFP', () => {
    const rtmfp = (path: string): string => `rtmfp://127.0.0.1:${rtmfpPort}/${path}`;
    const withFlows = (client: RtmfpClient): { messages: Array<[number, Buffer, Buffer]>; ended: number[] } => {
      const seen = { messages: [] as Array<[number, Buffer, Buffer]>, ended: [] as number[] };
      client.on('flowMessage', (flowId: number, metadata: Buffer, message: Buffer) => seen.messages.push([flowId, Buffer.from(metadata), Buffer.from(message)]));
      client.on('flowEnd', (flowId: number) => seen.ended.push(flowId));
      return seen;
    };
    const invocationName = (message: Buffer): unknown => (message[0] === 0x11 ? new AmfReader(message.subarray(6), 0).readAllAmf0()[0] : undefined);

    it('writeInvocation, writeAMFMessage, writeMessage; writeRaw is one flow message of exactly its bytes', async () => {
      const client = new RtmfpClient();
      await client.connect(rtmfp('writers'));
      const seen = withFlows(client);
      const got = collect(client);
      const result = await client.call('writeAll');
      assert.deepEqual(result, [true, false]);
      await until(() => got.length >= 3);
      assert.deepEqual(got, [
        ['inv', [1, 'two']],
        ['amf', [{ a: 1 }]],
        ['onMessage', ['msg', 3]],
      ]);
      const main = seen.messages.find(([, , m]) => invocationName(m) === 'inv')![0];
      const raw = Buffer.from([0x04, 0, 0, 0, 0, 0x00, 0xff, 0x01]);
      await client.call('rawRtmfp');
      await until(() => seen.messages.some(([, , m]) => m.equals(Buffer.from('xy'))));
      const raws = seen.messages.filter(([, , m]) => m.equals(raw) || m.equals(Buffer.from('xy')));
      assert.deepEqual(raws.map(([f, , m]) => [f, m.toString('hex')]), [
        [main, raw.toString('hex')],
        [main, Buffer.from('xy').toString('hex')],
      ]);
      client.close();
    });

    it('newWriter / newFlowWriter: a new NetConnection flow that ends on its own close', async () => {
      const client = new RtmfpClient();
      await client.connect(rtmfp('writers'));
      const seen = withFlows(client);
      const got = collect(client);
      const opened = await client.call('open');
      assert.deepEqual(opened, [true, true, true]);
      await until(() => got.some(([n]) => n === 'fromSub') && seen.messages.some(([, , m]) => m.subarray(7).toString() === 'sub'));
      const [subFlow, metadata] = seen.messages.find(([, , m]) => invocationName(m) === 'fromSub')!;
      const main = seen.messages.find(([, , m]) => invocationName(m) === '_result')![0];
      assert.notEqual(subFlow, main, 'the sub-writer has a flow of its own');
      assert.deepEqual(metadata, tcMetadata(0), 'a NetConnection flow');
      const raw = seen.messages.find(([, , m]) => m.subarray(7).toString() === 'sub')!;
      assert.equal(raw[0], subFlow, 'its writeRaw goes on its flow');
      assert.deepEqual(raw[2], Buffer.from([4, 0, 0, 0, 0, 0, 0xff, ...Buffer.from('sub')]));
      await client.call('closeSub');
      await until(() => seen.ended.includes(subFlow), 5000, 'the sub-writer flow ended');
      await until(() => got.some(([n]) => n === 'afterSubClose'));
      assert.equal(seen.messages.find(([, , m]) => invocationName(m) === 'lastOfSub')![0], subFlow);
      assert.equal(seen.messages.find(([, , m]) => invocationName(m) === 'afterSubClose')![0], main, 'the session goes on');
      assert.ok(!seen.ended.includes(main));
      await assert.rejects(client.call('writeClosedSub'), /www\/writers\/main\.lua:\d+: writer:writeInvocation: this writer is closed/);
      const again = await client.call('same');
      assert.deepEqual(again, [false]);
      client.close();
    });

    it('close: what was written before reaches the client, then the session ends', async () => {
      const client = new RtmfpClient();
      await client.connect(rtmfp('writers'));
      const got = collect(client);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      void client.call('bye').catch(() => undefined);
      await closed;
      assert.deepEqual(got.map(([n]) => n), ['first', 'second']);
    });
  });

  describe('WebSocket and HTTP', () => {
    const open = async (): Promise<{ ws: WebSocket; frames: Array<[boolean, Buffer]> }> => {
      const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/writers`);
      const frames: Array<[boolean, Buffer]> = [];
      ws.on('message', (data: Buffer, isBinary: boolean) => frames.push([isBinary, Buffer.from(data)]));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, frames };
    };

    it('WebSocket: writeRaw is one binary frame per argument, bytes unchanged; newWriter is the same writer', async () => {
      const { ws, frames } = await open();
      const bytes = Buffer.from([0x00, 0x01, 0x10, 0x7f]);
      ws.send(JSON.stringify(['raw', bytes.toString('latin1'), 'text']));
      await until(() => frames.length >= 2);
      assert.deepEqual(frames.slice(0, 2).map(([b, d]) => [b, d.toString('hex')]), [
        [true, '0001107f'],
        [true, Buffer.from('text').toString('hex')],
      ]);
      ws.send(JSON.stringify(['same']));
      await until(() => frames.length >= 3);
      assert.deepEqual(JSON.parse(frames[2][1].toString()), [true]);
      ws.send(JSON.stringify(['writeAll']));
      await until(() => frames.length >= 7);
      assert.deepEqual(frames.slice(3, 7).map(([, d]) => JSON.parse(d.toString()) as unknown), [['inv', 1, 'two'], ['amf', { a: 1 }], ['msg', 3], [true, false]]);
      // Closed by the script, then written to: the socket closes, the call fails at the script's line.
      const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
      ws.send(JSON.stringify(['closedWrite']));
      assert.equal(await closed, 1001);
      await waitForLog(/writers\/main\.lua:\d+: writer:writeInvocation: this writer is closed/);
      assert.equal(frames.length, 7, 'nothing written after close');
    });

    it('HTTP: writeRaw bytes are the answer, text/plain', async () => {
      const answer = await new Promise<{ type: string; body: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port: httpPort, path: '/writers/rawAnswer' }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }));
        })
          .on('error', reject)
          .end();
      });
      assert.deepEqual(answer, { type: 'text/plain', body: 'raw answer' });
    });
  });
});}
