import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import { DefaultHooks } from '../../src/core/ServerHooks.js';
import type { Client } from '../../src/core/Client.js';
import type { Listener } from '../../src/core/Listener.js';
import type { Publication } from '../../src/core/Publication.js';
import { callFailed, rejectConnection, rejectPlay } from '../../src/errors.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPublish, hasFfmpeg, makeTestFlv, run, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { sleep, startInProcess } from '../helpers/inProcess.js';
import { publishSynthetic } from '../helpers/synthetic.js';

class TestHooks extends DefaultHooks {
  readonly events: string[] = [];

  override onConnection(client: Client, args: readonly unknown[]): Record<string, unknown> | undefined {
    this.events.push(`connect ${client.path} ${JSON.stringify(args)}`);
    if (client.path === '/forbidden') {
      throw rejectConnection('go away');
    }
    if (client.path === '/throws') {
      throw new Error('script exploded');
    }
    return client.path === '/withfields' ? { greeting: 'hello', timeout: 30 } : undefined;
  }

  override async onPublish(client: Client, publication: Publication): Promise<void> {
    this.events.push(`publish ${publication.name}`);
    await sleep(5);
    if (publication.name.startsWith('nopub')) {
      throw new Error(`Not allowed to publish ${publication.name}`);
    }
  }

  override onSubscribe(_client: Client, listener: Listener): void {
    this.events.push(`subscribe ${listener.publication.name} ${JSON.stringify(listener.parameters)}`);
    if (listener.publication.name === 'secret') {
      throw rejectPlay('Not authorized to play secret');
    }
  }

  override onDisconnection(client: Client): void {
    this.events.push(`disconnect ${client.path}`);
  }

  override async onMessage(client: Client, name: string, args: readonly unknown[]): Promise<readonly unknown[]> {
    if (name === 'add') {
      await sleep(1);
      return [(args[0] as number) + (args[1] as number)];
    }
    if (name === 'fail') {
      throw callFailed('failed on purpose');
    }
    return super.onMessage(client, name);
  }
}

describe('RTMP and the hook contract', { timeout: 60_000 }, () => {
  const hooks = new TestHooks();
  let server: Server;
  let url: (p: string) => string;

  before(async () => {
    ({ server, url } = await startInProcess({}, hooks));
  });

  after(async () => {
    await server.stop();
  });

  it('rejects a connection with NetConnection.Connect.Rejected and the hook message', async () => {
    const client = new RtmpClient();
    await assert.rejects(client.connect(url('forbidden')), (err: unknown) => {
      assert.ok(err instanceof RtmpCallError);
      assert.equal(err.info.code, 'NetConnection.Connect.Rejected');
      assert.equal(err.info.description, 'go away');
      return true;
    });
    const other = new RtmpClient();
    await assert.rejects(other.connect(url('throws')), /Connect.Rejected: script exploded/);
    client.close();
    other.close();
  });

  it('puts the fields onConnection returns into the connect response', async () => {
    const client = new RtmpClient();
    const info = await client.connect(url('withfields?token=abc'), {}, 'arg1', 2);
    assert.equal(info.code, 'NetConnection.Connect.Success');
    assert.equal(info.greeting, 'hello');
    assert.ok(hooks.events.includes('connect /withfields ["arg1",2]'));
    const c = [...server.core.clients.values()].find((x) => x.path === '/withfields')!;
    assert.equal(c.properties.token, 'abc');
    assert.equal(c.parameters.greeting, 'hello');
    client.close();
    await sleep(100);
    assert.ok(hooks.events.includes('disconnect /withfields'));
  });

  it('routes other calls to the RPC hook: _result with the values, _error Call.Failed otherwise', async () => {
    const client = new RtmpClient();
    await client.connect(url('app'));
    assert.deepEqual(await client.call('add', null, 2, 3), [5]);
    await assert.rejects(client.call('fail'), /NetConnection.Call.Failed: failed on purpose/);
    await assert.rejects(client.call('nothere'), /Call.Failed: Method client 'nothere' not found in application \/app/);
    client.close();
  });

  it('answers BadName when onPublish refuses and Play.Failed when onSubscribe refuses', async () => {
    const client = new RtmpClient();
    await client.connect(url('app'));
    await assert.rejects(client.publish('nopub1'), /NetStream.Publish.BadName: Not allowed to publish nopub1/);
    await assert.rejects(client.play('secret'), /NetStream.Play.Failed: Not authorized to play secret/);
    assert.ok(hooks.events.includes('subscribe secret {}'));
    assert.equal(server.core.publications.size, 0, 'refused names leave no publication behind');
    client.close();
  });

  it('passes the stream query to onSubscribe and delivers frames in publish order', async () => {
    const publisher = new RtmpClient();
    await publisher.connect(url('app'));
    const id = await publisher.publish('ordered');
    const frames: number[] = [];
    const player = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && payload[1] === 1 && frames.push(payload.readUInt32BE(5)) });
    await player.connect(url('app'));
    await player.play('ordered?quality=hd');
    assert.ok(hooks.events.includes('subscribe ordered {"quality":"hd"}'));
    const source = publishSynthetic(publisher, id, { maxFrames: 30, intervalMs: 5 });
    await withTimeout((async () => { while (frames.length < 25) { await sleep(20); } })(), 10_000, 'frames');
    source.stop();
    for (let i = 1; i < frames.length; i++) {
      assert.equal(frames[i], frames[i - 1] + 1, 'no frame lost or reordered');
    }
    publisher.close();
    await player.waitStatus(1, ['NetStream.Play.UnpublishNotify']);
    player.close();
  });

  it('ffmpeg shows the rejection message of onConnection', { skip: !hasFfmpeg() }, async () => {
    const dir = tempDir();
    const source = makeTestFlv(join(dir, 's.flv'), 1, 25);
    const publisher = ffmpegPublish(source, url('forbidden/s'), false);
    assert.notEqual(await withTimeout(publisher.exited, 20_000, 'ffmpeg'), 0);
    assert.match(publisher.stderr(), /go away/);
    const player = run('ffmpeg', ['-hide_banner', '-i', url('app/secret'), '-f', 'null', '-']);
    assert.notEqual(await withTimeout(player.exited, 20_000, 'ffmpeg player'), 0);
  });
});
