import { FrameCache } from './FrameCache.js';
import type { MediaFrame } from './MediaFrame.js';
import type { MediaOutput } from './MediaOutput.js';
import { FanOut } from './FanOut.js';
import type { SubscriberLimits } from './Subscriber.js';

export interface FeedOptions {
  gopCache: boolean;
  gopCacheMaxBytes: number;
}

/**
 * The media of one publication on one thread: the late-joiner cache and the outputs frames go to.
 * The main thread's `Publication` has one; a media worker keeps one per publication it serves (a
 * mirror fed once per frame), so both threads run the same fan-out code. `push` is the hot path:
 * the cache, then each output once; an output with nothing to do is not in the list.
 */
export class MediaFeed {
  readonly cache: FrameCache;
  running = false;
  private outputs: MediaOutput[] = [];
  /** This thread's subscribers of the publication (made on first use). */
  private local: FanOut | null = null;

  constructor(
    options: FeedOptions,
    /** What a subscriber added to `subscribers()` may queue and how long it may lag. */
    readonly limits: SubscriberLimits,
    private readonly onOutputError: (err: unknown) => void = () => undefined,
  ) {
    this.cache = new FrameCache(options.gopCache, options.gopCacheMaxBytes);
  }

  /**
   * One frame to the cache and every output but `origin` (the output that already has it: the
   * worker whose own subscribers were served where the publisher is).
   */
  push(frame: MediaFrame, origin: MediaOutput | null = null): void {
    this.cache.add(frame);
    const outputs = this.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const output = outputs[i];
      if (output !== origin) {
        try {
          output.writeFrame(frame);
        } catch (err) {
          this.onOutputError(err);
        }
      }
    }
  }

  add(output: MediaOutput): void {
    if (!this.outputs.includes(output)) {
      this.outputs = [...this.outputs, output];
    }
  }

  remove(output: MediaOutput): void {
    if (this.outputs.includes(output)) {
      this.outputs = this.outputs.filter((o) => o !== output);
    }
  }

  get outputCount(): number {
    return this.outputs.length;
  }

  /** The fan-out of this thread's subscribers; an output of the feed while it has any. */
  subscribers(): FanOut {
    return (this.local ??= new FanOut(this));
  }

  /** Subscribers of this thread (0 when none ever came). */
  get subscriberCount(): number {
    return this.local?.size ?? 0;
  }

  start(): void {
    this.running = true;
    for (const output of this.outputs) {
      output.onPublishing(true);
    }
  }

  /** The publisher left: configs and GOP belong to that publishing session only. */
  stop(): void {
    this.running = false;
    this.cache.reset();
    for (const output of this.outputs) {
      output.onPublishing(false);
    }
  }
}
