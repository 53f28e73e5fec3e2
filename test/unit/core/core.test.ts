import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, formatAddress } from '../../../src/core/Client.js';
import { Core, splitStreamName } from '../../../src/core/Core.js';
import type { Listener, ListenerOwner } from '../../../src/core/Listener.js';
import { DefaultHooks } from '../../../src/core/ServerHooks.js';
import { RejectionError } from '../../../src/errors.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { Subscriber, type SubscriberSink } from '../../../src/media/Subscriber.js';

const options = { gopCache: true, gopCacheMaxBytes: 1 << 20, subscriberQueueBytes: 1000, subscriberTimeoutMs: 50 };

/**
 * A protocol's player as the core and the media layer see it: statuses as the listener's owner,
 * frames as a subscriber attached to the publication's fan-out once the hook agreed.
 */
class FakePlayer implements ListenerOwner, SubscriberSink {
  queuedBytes = 0;
  frames: MediaFrame[] = [];
  events: string[] = [];
  listener: Listener | null = null;
  write(frame: MediaFrame): void {
    this.frames.push(frame);
  }
  tooSlow(): void {
    this.events.push('close subscriber too slow');
    this.leave();
  }
  onPublisherChange(_l: Listener, running: boolean): void {
    this.events.push(running ? 'publish' : 'unpublish');
  }
  async join(core: Core, name: string): Promise<Listener> {
    const listener = await core.subscribe(client(), name, this, (l) => {
      const subscriber = new Subscriber(this, core.limits);
      l.subscription = subscriber;
      l.publication.feed.subscribers().add(subscriber);
    });
    this.listener = listener;
    return listener;
  }
  leave(): void {
    const listener = this.listener!;
    (listener.subscription as Subscriber).detach();
    listener.subscription = null;
    this.listener = null;
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
    const sink = new FakePlayer();
    const listener = await sink.join(core, 'cam?x=1');
    assert.deepEqual(listener.parameters, { x: '1' });
    assert.equal(core.publication('cam')?.running, false);
    const publication = await core.publish(client(), 'cam');
    publication.push(key(0));
    publication.push(inter(40));
    assert.equal(sink.frames.length, 2);
    core.unpublish(publication);
    assert.deepEqual(sink.events, ['publish', 'unpublish']);
    assert.ok(core.publication('cam'), 'kept while it has a listener');
    sink.leave();
    core.unsubscribe(listener);
    assert.equal(core.publication('cam'), undefined, 'dropped when idle');
  });

  it('refuses a second publisher of the same name with a publish rejection', async () => {
    const core = new Core(new DefaultHooks(), options);
    await core.publish(client(), 'x');
    await assert.rejects(core.publish(client(), 'x'), (err: unknown) => err instanceof RejectionError && err.code === 'MS_ERR_PUBLISH_REJECTED');
  });

  it('refuses a second subscription of one client to the same publication (MonaServer: "Already subscribed")', async () => {
    const core = new Core(new DefaultHooks(), options);
    const c = client();
    const owner = new FakePlayer();
    const first = await core.subscribe(c, 'x', owner);
    await assert.rejects(core.subscribe(c, 'x?y=1', owner), (err: unknown) => err instanceof RejectionError && err.code === 'MS_ERR_PLAY_REJECTED' && /already subscribed to x/.test(err.message));
    await core.subscribe(client(), 'x', new FakePlayer());
    core.unsubscribe(first);
    await core.subscribe(c, 'x', owner);
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
    await assert.rejects(new FakePlayer().join(core, 's'), { code: 'MS_ERR_PLAY_REJECTED', message: 'not you' });
    assert.equal(core.publications.size, 0);
  });

  it('closes a subscriber that stays behind, without touching the others', async () => {
    const core = new Core(new DefaultHooks(), options);
    const publication = await core.publish(client(), 's');
    const slow = new FakePlayer();
    const fast = new FakePlayer();
    await slow.join(core, 's');
    await fast.join(core, 's');
    slow.queuedBytes = 10_000;
    publication.push(key(0));
    await new Promise((r) => setTimeout(r, 80));
    publication.push(inter(40));
    assert.match(slow.events.at(-1)!, /close subscriber too slow/);
    assert.equal(fast.frames.length, 2);
    assert.equal(publication.feed.subscriberCount, 1);
  });

  it('drops a subscriber\'s frames to the next keyframe while its queue is past the limit', async () => {
    const core = new Core(new DefaultHooks(), options);
    const publication = await core.publish(client(), 's');
    const player = new FakePlayer();
    const listener = await player.join(core, 's');
    publication.push(key(0));
    publication.push(inter(40));
    player.queuedBytes = 10_000;
    publication.push(inter(80));
    assert.equal(listener.droppedFrames, 1);
    player.queuedBytes = 0;
    publication.push(inter(120));
    assert.equal(listener.droppedFrames, 2, 'waits for a keyframe');
    publication.push(key(160));
    publication.push(inter(200));
    assert.deepEqual(player.frames.map((f) => f.timestamp), [0, 40, 160, 200], 'resumes at the keyframe');
    assert.equal(publication.droppedFrames, 2);
  });

  it('applies receiveAudio/receiveVideo set on the listener (as scripts do) to its subscriber', async () => {
    const core = new Core(new DefaultHooks(), options);
    const publication = await core.publish(client(), 's');
    const player = new FakePlayer();
    const listener = await player.join(core, 's');
    const audio = (t: number): MediaFrame => new MediaFrame(FrameKind.AUDIO, t, Buffer.from([0xaf, 1, 2]));
    listener.receiveAudio = false;
    publication.push(key(0));
    publication.push(audio(0));
    listener.receiveVideo = false;
    publication.push(inter(40));
    publication.push(new MediaFrame(FrameKind.AUDIO, 0, Buffer.from([0xaf, 0, 0x12, 0x10])));
    listener.receiveAudio = true;
    publication.push(audio(80));
    listener.receiveVideo = true;
    publication.push(inter(80));
    publication.push(key(120));
    assert.deepEqual(player.frames.map((f) => `${f.kind}@${f.timestamp}`), ['9@0', '8@0', '8@80', '9@120'], 'configs always, video again from a keyframe');
    assert.equal(listener.receiveAudio, true);
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
