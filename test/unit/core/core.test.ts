import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, formatAddress } from '../../../src/core/Client.js';
import { Core, splitStreamName } from '../../../src/core/Core.js';
import type { FrameOutlet, Listener, MediaSink } from '../../../src/core/Listener.js';
import { DefaultHooks } from '../../../src/core/ServerHooks.js';
import { RejectionError } from '../../../src/errors.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';

const options = { gopCache: true, gopCacheMaxBytes: 1 << 20, subscriberQueueBytes: 1000, subscriberTimeoutMs: 50 };

class FakeSink implements MediaSink {
  queuedBytes = 0;
  frames: MediaFrame[] = [];
  events: string[] = [];
  writeFrame(frame: MediaFrame): void {
    this.frames.push(frame);
  }
  onPublisherChange(_l: Listener, running: boolean): void {
    this.events.push(running ? 'publish' : 'unpublish');
  }
  onListenerClose(_l: Listener, reason: string): void {
    this.events.push(`close ${reason}`);
  }
}

const client = (path = '/live'): Client => {
  const c = new Client('TEST', '127.0.0.1:1', { writeInvocation() {}, writeMessage() {}, close() {} });
  c.path = path;
  return c;
};

const key = (t: number): MediaFrame => new MediaFrame(FrameKind.VIDEO, t, Buffer.from([0x17, 1, 0, 0, 0]));
const inter = (t: number): MediaFrame => new MediaFrame(FrameKind.VIDEO, t, Buffer.from([0x27, 1, 0, 0, 0]));

describe('Core', () => {
  it('registers clients on accepted connections and forgets them on disconnect', async () => {
    const core = new Core(new DefaultHooks(), options);
    const c = client();
    assert.deepEqual(await core.connect(c, []), {});
    assert.equal(c.state, 'connected');
    assert.equal(core.clients.get(c.id), c);
    assert.equal(c.id.length, 64);
    core.disconnect(c);
    assert.equal(core.clients.size, 0);
  });

  it('lets a player subscribe before the publisher and notifies it when publishing starts and stops', async () => {
    const core = new Core(new DefaultHooks(), options);
    const sink = new FakeSink();
    const listener = await core.subscribe(client(), 'cam?x=1', sink);
    assert.deepEqual(listener.parameters, { x: '1' });
    assert.equal(core.publication('cam')?.running, false);
    const publication = await core.publish(client(), 'cam');
    publication.push(key(0));
    publication.push(inter(40));
    assert.equal(sink.frames.length, 2);
    core.unpublish(publication);
    assert.deepEqual(sink.events, ['publish', 'unpublish']);
    assert.ok(core.publication('cam'), 'kept while it has a listener');
    core.unsubscribe(listener);
    assert.equal(core.publication('cam'), undefined, 'dropped when idle');
  });

  it('refuses a second publisher of the same name with a publish rejection', async () => {
    const core = new Core(new DefaultHooks(), options);
    await core.publish(client(), 'x');
    await assert.rejects(core.publish(client(), 'x'), (err: unknown) => err instanceof RejectionError && err.code === 'MS_ERR_PUBLISH_REJECTED');
  });

  it('maps any hook error to the rejection of its kind', async () => {
    const hooks = new (class extends DefaultHooks {
      override onConnection(): undefined {
        throw new Error('nope');
      }
      override onSubscribe(): void {
        throw new Error('not you');
      }
    })();
    const core = new Core(hooks, options);
    await assert.rejects(core.connect(client(), []), { code: 'MS_ERR_CONNECT_REJECTED', message: 'nope' });
    await assert.rejects(core.subscribe(client(), 's', new FakeSink()), { code: 'MS_ERR_PLAY_REJECTED', message: 'not you' });
    assert.equal(core.publications.size, 0);
  });

  it('closes a listener that stays behind, without touching the others', async () => {
    const core = new Core(new DefaultHooks(), options);
    const publication = await core.publish(client(), 's');
    const slow = new FakeSink();
    const fast = new FakeSink();
    await core.subscribe(client(), 's', slow);
    await core.subscribe(client(), 's', fast);
    slow.queuedBytes = 10_000;
    publication.push(key(0));
    await new Promise((r) => setTimeout(r, 80));
    publication.push(inter(40));
    assert.match(slow.events.at(-1)!, /close subscriber too slow/);
    assert.equal(fast.frames.length, 2);
    assert.equal(publication.listeners.size, 1);
  });

  it('writes through a listener\'s outlet in the steady state, and applies the same drop policy to it', async () => {
    const core = new Core(new DefaultHooks(), options);
    const publication = await core.publish(client(), 's');
    const sink = new FakeSink();
    const outlet: FrameOutlet & { queuedBytes: number; frames: MediaFrame[] } = {
      queuedBytes: 0,
      frames: [],
      writeFrame(frame) {
        this.frames.push(frame);
      },
    };
    const listener = await core.subscribe(client(), 's', sink);
    listener.outlet = outlet;
    publication.push(key(0));
    publication.push(inter(40));
    assert.equal(outlet.frames.length, 2);
    assert.equal(sink.frames.length, 0, 'the sink is bypassed');
    outlet.queuedBytes = 10_000; // what the outlet reports decides, as the sink's would
    publication.push(inter(80));
    assert.equal(listener.droppedFrames, 1);
    outlet.queuedBytes = 0;
    publication.push(inter(120));
    assert.equal(listener.droppedFrames, 2, 'waits for a keyframe');
    publication.push(key(160));
    publication.push(inter(200));
    assert.deepEqual(outlet.frames.map((f) => f.timestamp), [0, 40, 160, 200], 'resumes at the keyframe');
    assert.equal(sink.frames.length, 0);
    outlet.queuedBytes = 10_000;
    publication.push(inter(240));
    await new Promise((r) => setTimeout(r, 80));
    publication.push(inter(280));
    assert.match(sink.events.at(-1)!, /close subscriber too slow/);
    assert.equal(publication.listeners.size, 0);
  });

  it('makes a client\'s script data on first use and keeps it', () => {
    const c = client();
    const key = Symbol('runtime');
    assert.equal(c.data.get(key), undefined);
    c.data.set(key, 1);
    assert.equal(c.data, c.data);
    assert.equal(c.data.get(key), 1);
    assert.equal(client().data.size, 0, 'each client its own');
  });

  it('splits stream names and formats addresses', () => {
    assert.deepEqual(splitStreamName('a?b=1&c=2'), ['a', { b: '1', c: '2' }]);
    assert.deepEqual(splitStreamName('plain'), ['plain', {}]);
    assert.equal(formatAddress('::ffff:127.0.0.1', 5), '127.0.0.1:5');
    assert.equal(formatAddress('::1', 5), '[::1]:5');
  });
});
