import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AmfTypedObject } from '../../src/amf/index.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { withTimeout } from '../helpers/ffmpeg.js';
import { logLines, startInProcess, waitForLog } from '../helpers/inProcess.js';

const fixture = fileURLToPath(new URL('../fixtures/apps/typed', import.meta.url));

const cat = (): AmfTypedObject => new AmfTypedObject('Cat', { name: 'Tom', lives: 9 });
const nested = (): AmfTypedObject => new AmfTypedObject('Outer', { inner: new AmfTypedObject('Inner', { x: 1 }), list: [new AmfTypedObject('Item', { i: 2 })] });

const invocations = (client: RtmpClient, count: number): Promise<Array<[string, unknown[]]>> =>
  new Promise((resolve) => {
    const got: Array<[string, unknown[]]> = [];
    const on = (name: string, args: unknown[]): void => {
      got.push([name, args]);
      if (got.length === count) {
        client.off('invoke', on);
        resolve(got);
      }
    };
    client.on('invoke', on);
  });

describe('AMF typed objects in server applications (MonaServer __type and onTypedObject)', { timeout: 120_000 }, () => {
  let server: Server;
  let url: (p: string) => string;

  before(async () => {
    ({ server, url } = await startInProcess({ 'application.dir': fixture, 'application.timeout': '0.5' }));
  });

  after(async () => {
    await server.stop();
  });

  for (const [label, path] of [
    ['Lua', ''],
    ['JS', 'js'],
  ] as const) {
    for (const amf3 of [false, true]) {
      it(`${label} app, ${amf3 ? 'AMF3 traits' : 'AMF0 0x10'} arguments: arrive with __type, onTypedObject runs (inner first), answers are typed`, async () => {
        const client = new RtmpClient(amf3 ? { objectEncoding: 3, amf3Arguments: true } : {});
        await client.connect(url(path));
        assert.deepEqual(await client.call('echo', null, cat()), [cat()]);
        assert.deepEqual(await client.call('seen'), ['Cat']);
        const meow = await client.call('meow', null, cat());
        assert.deepEqual(label === 'Lua' ? meow : meow[0], ['Tom meows', 'Cat'], 'the method onTypedObject added');
        await client.call('seen');
        assert.deepEqual(await client.call('echo', null, nested()), [nested()]);
        assert.deepEqual(await client.call('seen'), ['Inner,Item,Outer']);
        client.close();
      });
    }

    it(`${label} app: a table/object with __type goes out typed in answers, writeInvocation, writeMessage, and round-trips through toAMF/toAMF0/fromAMF`, async () => {
      const client = new RtmpClient();
      await client.connect(url(path));
      const made = await client.call('make');
      assert.deepEqual(made, [new AmfTypedObject('Dog', { name: 'Rex', toys: [new AmfTypedObject('Ball', { color: 'red' })] })]);
      const pushed = invocations(client, 2);
      await client.call('push', null, cat());
      const [[name, args], [message, messageArgs]] = await withTimeout(pushed, 5000, 'invocations');
      assert.equal(name, 'onTyped');
      assert.deepEqual(args, [cat(), new AmfTypedObject('Bone', { size: 2 })]);
      assert.equal(message, 'onMessage');
      assert.deepEqual(messageArgs, [new AmfTypedObject('Msg', { n: 1 })]);
      await client.call('seen');
      const trip = await client.call('roundTrip', null, cat());
      const values = label === 'Lua' ? trip : (trip[0] as unknown[]);
      assert.deepEqual(values, [cat(), cat(), 'Tom meows', 'Cat']);
      assert.deepEqual(await client.call('seen'), ['Cat,Cat,Cat'], 'the argument, then what fromAMF read (twice)');
      client.close();
    });

    it(`${label} app: an onTypedObject that fails is logged and the call goes on; the server stays up`, async () => {
      const client = new RtmpClient();
      await client.connect(url(path));
      assert.deepEqual(await client.call('echo', null, new AmfTypedObject('Fail', { a: 1 })), [new AmfTypedObject('Fail', { a: 1 })]);
      await waitForLog(label === 'Lua' ? /onTypedObject: www\/main\.lua:\d+: no Fail here/ : /app \/js onTypedObject: no Fail here/);
      assert.deepEqual(await client.call('echo', null, 1), [1]);
      client.close();
    });
  }

  it('Lua app: an onTypedObject that runs away fails the call (Call.Failed), a returned value is warned about, a huge class name fails only its call', async () => {
    const loop = new RtmpClient();
    await loop.connect(url(''));
    await loop.call('seen');
    await assert.rejects(loop.call('echo', null, new AmfTypedObject('Loop')), /NetConnection.Call.Failed: .*time budget of 500 ms exceeded/);
    loop.close();
    const client = new RtmpClient();
    await client.connect(url(''));
    assert.deepEqual(await client.call('echo', null, new AmfTypedObject('Ret')), [new AmfTypedObject('Ret')]);
    assert.ok(logLines.some((l) => /onTypedObject: its results are ignored/.test(l)));
    // AMF0 cannot say a class name longer than 65535 bytes: the answer fails, not the session.
    await assert.rejects(client.call('className', null, 70_000), /NetConnection.Call.Failed/);
    const [big] = (await client.call('className', null, 65_535)) as AmfTypedObject[];
    assert.equal(big.className.length, 65_535);
    // A client's AMF3 class name of 100 KB arrives (the hook sees it) and cannot be echoed in AMF0.
    const amf3 = new RtmpClient({ objectEncoding: 3, amf3Arguments: true });
    await amf3.connect(url(''));
    await assert.rejects(amf3.call('echo', null, new AmfTypedObject('X'.repeat(100_000))), /NetConnection.Call.Failed/);
    const [seen] = (await amf3.call('seen')) as string[];
    assert.ok(seen === `Loop,Ret,${'X'.repeat(100_000)}`, `onTypedObject saw ${seen.length} bytes of types`);
    assert.deepEqual(await amf3.call('echo', null, cat()), [cat()]);
    amf3.close();
    assert.deepEqual(await client.call('echo', null, 2), [2]);
    client.close();
  });
});
