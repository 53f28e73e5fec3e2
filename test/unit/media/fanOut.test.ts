/**
 * The output model (src/media): a feed hands each frame to its outputs but the one it came from;
 * the fan-out of a thread's subscribers joins and leaves the outputs with them, brings late
 * joiners up to date from the cache, applies filters and drop policies, and lets a subscriber
 * that stays behind go; script taps run after the fan-out, on the next turn.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Publication } from '../../../src/core/Publication.js';
import { MediaFeed } from '../../../src/media/MediaFeed.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import type { MediaOutput } from '../../../src/media/MediaOutput.js';
import { Subscriber, type SubscriberSink } from '../../../src/media/Subscriber.js';
import { ScriptTaps } from '../../../src/scripting/ScriptTaps.js';

const limits = { maxQueuedBytes: 1000, timeoutMs: 30 };
const feed = (): MediaFeed => new MediaFeed({ gopCache: true, gopCacheMaxBytes: 1 << 20 }, limits);
const key = (t: number): MediaFrame => new MediaFrame(FrameKind.VIDEO, t, Buffer.from([0x17, 1, 0, 0, 0]));
const inter = (t: number): MediaFrame => new MediaFrame(FrameKind.VIDEO, t, Buffer.from([0x27, 1, 0, 0, 0]));
const avcConfig = new MediaFrame(FrameKind.VIDEO, 0, Buffer.from([0x17, 0, 0, 0, 0, 1]));
const audio = (t: number): MediaFrame => new MediaFrame(FrameKind.AUDIO, t, Buffer.from([0xaf, 1, 9]));

class Sink implements SubscriberSink {
  queuedBytes = 0;
  got: string[] = [];
  slow = false;
  write(frame: MediaFrame): void {
    this.got.push(`${frame.kind === FrameKind.VIDEO ? (frame.isConfig ? 'cfg' : frame.isKeyframe ? 'K' : 'i') : 'a'}${frame.timestamp}`);
  }
  tooSlow(): void {
    this.slow = true;
  }
}

const recorder = (got: number[]): MediaOutput => ({ writeFrame: (f) => got.push(f.timestamp), onPublishing: () => undefined });

describe('media output model', () => {
  it('hands a frame to every output but its origin', () => {
    const f = feed();
    const a: number[] = [];
    const b: number[] = [];
    const origin = recorder(b);
    f.add(recorder(a));
    f.add(origin);
    f.push(key(0));
    f.push(inter(40), origin);
    assert.deepEqual(a, [0, 40]);
    assert.deepEqual(b, [0], 'the output the frame came from does not get it again');
  });

  it('keeps a throwing output from stopping the others', () => {
    const errors: unknown[] = [];
    const f = new MediaFeed({ gopCache: true, gopCacheMaxBytes: 1 << 20 }, limits, (e) => errors.push(e));
    const got: number[] = [];
    f.add({ writeFrame: () => { throw new Error('broken output'); }, onPublishing: () => undefined });
    f.add(recorder(got));
    f.push(key(0));
    assert.deepEqual(got, [0]);
    assert.equal(errors.length, 1);
  });

  it('is an output only while it has subscribers, and brings a late joiner up to date from a keyframe', () => {
    const f = feed();
    f.start();
    assert.equal(f.outputCount, 0);
    f.push(avcConfig);
    f.push(inter(0)); // no keyframe yet: not cached
    f.push(key(40));
    f.push(inter(80));
    const sink = new Sink();
    const subscriber = new Subscriber(sink, limits);
    f.subscribers().add(subscriber);
    assert.equal(f.outputCount, 1);
    f.push(inter(120));
    assert.deepEqual(sink.got, ['cfg0', 'K40', 'i80', 'i120']);
    subscriber.detach();
    assert.equal(f.outputCount, 0, 'an empty fan-out leaves the outputs');
  });

  it('tells its sinks when the publisher starts and stops (RTMFP Flow Sync), in order with the frames', () => {
    const f = feed();
    const sink = new (class extends Sink {
      onPublishing(running: boolean): void {
        this.got.push(running ? 'start' : 'stop');
      }
    })();
    f.subscribers().add(new Subscriber(sink, limits));
    f.subscribers().add(new Subscriber(new Sink(), limits)); // a sink without the hook (RTMP) is fine
    f.start();
    f.push(key(0));
    f.stop();
    f.push(key(1000));
    f.start();
    assert.deepEqual(sink.got, ['start', 'K0', 'stop', 'K1000', 'start']);
  });

  it('waits for a keyframe when the cache has no GOP to give', () => {
    const f = new MediaFeed({ gopCache: false, gopCacheMaxBytes: 0 }, limits);
    f.start();
    f.push(avcConfig);
    f.push(key(0));
    const sink = new Sink();
    f.subscribers().add(new Subscriber(sink, limits));
    f.push(inter(40));
    f.push(audio(40));
    f.push(key(80));
    assert.deepEqual(sink.got, ['cfg0', 'K80']);
  });

  it('applies pause and receiveAudio/receiveVideo, and resumes video at a keyframe', () => {
    const f = feed();
    f.start();
    const sink = new Sink();
    const subscriber = new Subscriber(sink, limits);
    f.subscribers().add(subscriber);
    f.push(key(0));
    subscriber.paused = true;
    f.push(inter(40));
    f.push(avcConfig);
    subscriber.paused = false;
    f.push(inter(80));
    f.push(key(120));
    subscriber.receiveAudio = false;
    f.push(audio(160));
    subscriber.receiveVideo = false;
    f.push(key(200));
    f.push(avcConfig);
    assert.deepEqual(sink.got, ['K0', 'K120', 'cfg0'], 'nothing while paused, a keyframe after, configs pass the filters');
  });

  it('drops to the next keyframe past the queue limit, and lets go of a subscriber that stays behind', async () => {
    const f = feed();
    f.start();
    const slow = new Sink();
    const fast = new Sink();
    f.subscribers().add(new Subscriber(slow, limits));
    const fastSubscriber = new Subscriber(fast, limits);
    f.subscribers().add(fastSubscriber);
    slow.queuedBytes = 5000;
    f.push(key(0));
    await new Promise((r) => setTimeout(r, 50));
    f.push(inter(40));
    assert.equal(slow.slow, true);
    assert.deepEqual(slow.got, []);
    assert.deepEqual(fast.got, ['K0', 'i40']);
    assert.equal(f.subscriberCount, 1);
    fast.queuedBytes = 5000;
    f.push(inter(80));
    fast.queuedBytes = 0;
    f.push(inter(120));
    f.push(key(160));
    assert.deepEqual(fast.got, ['K0', 'i40', 'K160']);
    assert.equal(fastSubscriber.droppedFrames, 2);
  });

  it('runs script taps after the fan-out, on the next turn, and before the publisher is gone', async () => {
    const publication = new Publication('p', { gopCache: true, gopCacheMaxBytes: 1 << 20 }, limits);
    publication.start(null);
    const sink = new Sink();
    publication.feed.subscribers().add(new Subscriber(sink, limits));
    const seen: string[] = [];
    new ScriptTaps().set(publication, 'lua', (_p, frame) => seen.push(`${frame.timestamp} after ${sink.got.length} written`));
    publication.push(key(0));
    publication.push(inter(40));
    assert.deepEqual(seen, [], 'not during the push');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['0 after 2 written', '40 after 2 written']);
    publication.push(inter(80));
    publication.stop();
    assert.deepEqual(seen.at(-1), '80 after 3 written', 'what waits runs when the publisher leaves');
  });
});

describe('media queue budget', () => {
  it('over the thread\'s budget, the subscribers holding more than a fair share drop to a keyframe first', async () => {
    const { QueueBudget } = await import('../../../src/media/QueueBudget.js');
    // Each may queue 1 MiB on its own; together 100 KB.
    const budget = new QueueBudget(100_000);
    const f = new MediaFeed({ gopCache: true, gopCacheMaxBytes: 1 << 20 }, { maxQueuedBytes: 1 << 20, timeoutMs: 0, budget });
    f.start();
    const fast = Array.from({ length: 9 }, () => new Sink());
    const slow = new Sink();
    for (const s of [...fast, slow]) {
      f.subscribers().add(new Subscriber(s, { maxQueuedBytes: 1 << 20, timeoutMs: 0, budget }));
    }
    fast.forEach((s) => (s.queuedBytes = 1000));
    slow.queuedBytes = 200_000; // well under its own 1 MiB limit
    f.push(key(0));
    f.push(inter(40));
    f.push(inter(80));
    assert.equal(budget.queuedBytes, 209_000);
    assert.deepEqual(slow.got, [], 'the slowest is held to its share');
    fast.forEach((s) => assert.deepEqual(s.got, ['K0', 'i40', 'i80'], 'the others are untouched'));
    // Back under the budget: the slow one resumes at the next keyframe.
    slow.queuedBytes = 0;
    f.push(inter(120));
    f.push(key(160));
    assert.deepEqual(slow.got, ['K160']);
    assert.ok(budget.squeezed > 0);
  });
});
