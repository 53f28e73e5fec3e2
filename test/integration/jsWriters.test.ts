import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { AmfReader } from '../../src/amf/index.js';
import type { RtmpMessage } from '../../src/protocols/rtmp/RtmpChunkReader.js';
import type { Server } from '../../src/Server.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { startInProcess } from '../helpers/inProcess.js';
import { until } from '../helpers/rtmfpServer.js';

/**
 * The writer API from a JS app (in its worker thread): writeAMFMessage, writeRaw, newWriter, flush
 * and writes after close, as scriptWriters.test.ts checks them for Lua, with a real RTMP client
 * decoding what arrives.
 */
const APP = `
let sub = null;
export function onConnection(client) {
  client.writeAll = () => {
    const w = client.writer;
    w.writeInvocation('inv', 1, 'two');
    w.writeAMFMessage('amf', { a: 1 });
    w.writeMessage('msg', 3);
  };
  client.rawRtmp = () => client.writer.writeRaw(Buffer.from([0, 255, 1, 2, 0, 3]), new Uint8Array([0, 255, 0x80, 0x81]), null);
  client.rawBad = () => client.writer.writeRaw('ok', {});
  client.open = () => {
    sub = client.writer.newWriter();
    sub.writeInvocation('fromSub', 1);
    sub.writeAMFMessage('amfSub', 2);
    return [sub !== client.writer, sub.reliable, client.writer.newFlowWriter() !== sub];
  };
  client.closeSub = () => {
    sub.writeInvocation('lastOfSub');
    const wrote = sub.flush();
    sub.close();
    let error = null;
    try {
      sub.writeInvocation('never');
    } catch (err) {
      error = err.message;
    }
    client.writer.writeInvocation('afterSubClose');
    return [wrote, sub.flush(), error];
  };
}
`;

const commandValues = (msg: RtmpMessage): unknown[] => new AmfReader(msg.payload, msg.type === 17 ? 1 : 0).readAllAmf0();

describe('JS app writers (worker thread)', { timeout: 60_000 }, () => {
  let server: Server;
  let url: (path: string) => string;

  before(async () => {
    const dir = tempDir('nimbus-jswriters-');
    mkdirSync(join(dir, 'www/writers'), { recursive: true });
    writeFileSync(join(dir, 'www/writers/main.js'), APP);
    ({ server, url } = await startInProcess({ 'application.dir': dir }));
  });

  after(async () => {
    await server.stop();
  });

  const connect = async (): Promise<{ client: RtmpClient; got: Array<[string, unknown[]]>; messages: RtmpMessage[] }> => {
    const client = new RtmpClient();
    await client.connect(url('writers'));
    const got: Array<[string, unknown[]]> = [];
    const messages: RtmpMessage[] = [];
    client.on('invoke', (name: string, args: unknown[]) => got.push([name, args]));
    client.on('message', (m: RtmpMessage) => messages.push({ ...m, payload: Buffer.from(m.payload) }));
    return { client, got, messages };
  };

  it('writeInvocation, writeAMFMessage (its alias) and writeMessage are NetConnection calls', async () => {
    const { client, got } = await connect();
    await client.call('writeAll');
    await until(() => got.length >= 3);
    assert.deepEqual(got, [
      ['inv', [1, 'two']],
      ['amf', [{ a: 1 }]],
      ['onMessage', ['msg', 3]],
    ]);
    client.close();
  });

  it('writeRaw: each argument is the body of one User Control message on chunk stream 2; a bad argument throws', async () => {
    const { client, messages } = await connect();
    await client.call('rawRtmp');
    const raws = (): RtmpMessage[] => messages.filter((m) => m.type === 4 && m.payload[1] === 0xff);
    await until(() => raws().length >= 2);
    assert.deepEqual(raws().map((m) => [m.csid, m.streamId, m.payload.toString('hex')]), [
      [2, 0, '00ff01020003'],
      [2, 0, '00ff8081'],
    ]);
    await assert.rejects(client.call('rawBad'), /writer\.writeRaw\(\.\.\.data\): argument #2 is a object, expected a Buffer or a string/);
    client.close();
  });

  it('newWriter writes on a chunk stream of its own and closes alone', async () => {
    const { client, got, messages } = await connect();
    assert.deepEqual(await client.call('open'), [[true, true, true]], 'a new writer, reliable, and another one each call');
    await until(() => got.some(([n]) => n === 'amfSub'));
    const commands = (): RtmpMessage[] => messages.filter((m) => m.type === 20 || m.type === 17);
    const sub = commands().find((m) => commandValues(m)[0] === 'fromSub')!;
    assert.ok(sub.csid >= 7, `sub-writer on csid ${sub.csid}`);
    assert.equal(commands().find((m) => commandValues(m)[0] === 'amfSub')!.csid, sub.csid);
    // As in Lua apps: a write to a writer the script closed is an error at that line, not a silent drop.
    assert.deepEqual(await client.call('closeSub'), [[true, false, 'writer.writeInvocation: this writer is closed (writer.close() was called)']]);
    await until(() => got.some(([n]) => n === 'afterSubClose'));
    assert.deepEqual(got.map(([n]) => n).filter((n) => n !== '_result'), ['fromSub', 'amfSub', 'lastOfSub', 'afterSubClose'], 'nothing written once the sub-writer closed');
    assert.equal(commands().find((m) => commandValues(m)[0] === 'lastOfSub')!.csid, sub.csid);
    assert.equal(commands().find((m) => commandValues(m)[0] === 'afterSubClose')!.csid, 3, 'the main writer keeps chunk stream 3');
    client.close();
  });
});
