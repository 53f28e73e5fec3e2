import { Verdict } from './DropPolicy.js';
import { FrameKind, type MediaFrame } from './MediaFrame.js';
import type { MediaFeed } from './MediaFeed.js';
import type { MediaOutput } from './MediaOutput.js';
import type { QueueBudget } from './QueueBudget.js';
import { SkipBit, type Subscriber } from './Subscriber.js';

/**
 * The subscribers of one publication on one thread (MediaFeed.subscribers): an output of the feed
 * while it has any. The per-subscriber loop is the fan-out hot path: one AND for the filters, one
 * queued-bytes read compared with one field (DropPolicy.sends), and the sink's write, which
 * reuses the frame's wire bytes and queues them in its protocol's turn batch. Drops, lagging and
 * closing go through `judge`. A late joiner first gets the feed's cache (metadata, decoder
 * configurations, the GOP so far).
 */
export class FanOut implements MediaOutput {
  private subscribers: Subscriber[] = [];
  private readonly budget: QueueBudget | null;
  /** True while in the feed's outputs. */
  private attached = false;

  constructor(private readonly feed: MediaFeed) {
    this.budget = feed.limits.budget ?? null;
  }

  get size(): number {
    return this.subscribers.length;
  }

  add(subscriber: Subscriber): void {
    if (subscriber.fanOut === this) {
      return;
    }
    subscriber.detach();
    subscriber.fanOut = this;
    this.subscribers.push(subscriber);
    this.budget?.join(subscriber);
    if (!this.attached) {
      this.attached = true;
      this.feed.add(this);
    }
    if (this.feed.running) {
      this.sendCache(subscriber);
    }
  }

  remove(subscriber: Subscriber): void {
    const i = this.subscribers.indexOf(subscriber);
    if (i < 0) {
      return;
    }
    // Order does not matter: swap with the last one (no array shift per departure).
    const last = this.subscribers.pop()!;
    if (last !== subscriber) {
      this.subscribers[i] = last;
    }
    subscriber.fanOut = null;
    this.budget?.leave(subscriber);
    if (this.subscribers.length === 0 && this.attached) {
      this.attached = false;
      this.feed.remove(this);
    }
  }

  writeFrame(frame: MediaFrame): void {
    const config = frame.isConfig;
    const kind = frame.kind;
    // The filter bit of this frame: decoder configurations and metadata pass receiveAudio/Video.
    const bit = SkipBit.PAUSED | (config ? 0 : kind === FrameKind.AUDIO ? SkipBit.AUDIO : kind === FrameKind.VIDEO ? SkipBit.VIDEO : 0);
    const subscribers = this.subscribers;
    const budget = this.budget;
    let now = 0;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i];
      if ((subscriber.skip & bit) !== 0) {
        continue;
      }
      const sink = subscriber.sink;
      let queued = sink.queuedBytes;
      if (budget !== null) {
        budget.note(subscriber, queued);
        if (queued > 0 && budget.squeezes(queued)) {
          // Over the thread's budget and over its fair share: past its limit, whatever it is.
          queued = Number.MAX_SAFE_INTEGER;
        }
      }
      if (subscriber.drops.sends(queued)) {
        sink.write(frame);
        continue;
      }
      if (now === 0) {
        now = Date.now();
      }
      if (this.judge(subscriber, frame, queued, now)) {
        // It left the array (swapped with the last one): the same index holds the next to serve.
        i--;
      }
    }
  }

  /** The drop policy's full verdict; returns true when the subscriber was let go (too slow). */
  private judge(subscriber: Subscriber, frame: MediaFrame, queued: number, now: number): boolean {
    const verdict = subscriber.drops.judge(frame, queued, this.feed.cache.hasVideo, now);
    if (verdict === Verdict.SEND) {
      subscriber.sink.write(frame);
      return false;
    }
    if (verdict === Verdict.CLOSE) {
      this.remove(subscriber);
      subscriber.sink.tooSlow();
      return true;
    }
    return false;
  }

  /** A late joiner: the cache first, starting at a keyframe when there is no GOP to give. */
  private sendCache(subscriber: Subscriber): void {
    const cache = this.feed.cache;
    if (cache.hasVideo && cache.gopFrameCount === 0) {
      subscriber.drops.waitForKeyframe();
    }
    const now = Date.now();
    for (const frame of cache.snapshot()) {
      if (subscriber.fanOut !== this) {
        return;
      }
      const config = frame.isConfig;
      const bit = SkipBit.PAUSED | (config ? 0 : frame.kind === FrameKind.AUDIO ? SkipBit.AUDIO : frame.kind === FrameKind.VIDEO ? SkipBit.VIDEO : 0);
      if ((subscriber.skip & bit) === 0) {
        this.judge(subscriber, frame, subscriber.sink.queuedBytes, now);
      }
    }
  }

  /** A new publisher begins with a keyframe anyway: every drop policy starts over. The sinks hear it too. */
  onPublishing(running: boolean): void {
    for (const subscriber of this.subscribers) {
      if (running) {
        subscriber.drops.reset();
      }
      subscriber.sink.onPublishing?.(running);
    }
  }
}
