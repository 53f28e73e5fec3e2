import { DropPolicy } from './DropPolicy.js';
import type { MediaFrame } from './MediaFrame.js';
import type { QueueBudget } from './QueueBudget.js';

/** What a subscriber may queue and how long it may stay behind (media.subscriberQueueBytes/Timeout). */
export interface SubscriberLimits {
  maxQueuedBytes: number;
  timeoutMs: number;
  /** What this thread's subscribers may hold together (null: no budget). */
  budget?: QueueBudget | null;
}

/**
 * Where one subscriber's frames go: a protocol's player (an RTMP stream on a socket, an RTMFP
 * NetStream's flows). `write` reuses the frame's memoized wire bytes for its format.
 */
export interface SubscriberSink {
  /** Bytes accepted but not yet handed to the network, read live (the drop policy's input). */
  readonly queuedBytes: number;
  write(frame: MediaFrame): void;
  /** It stayed behind past the timeout and the fan-out let it go: its session closes. */
  tooSlow(): void;
  /**
   * The publication it plays got a publisher (`running`) or lost it; frames of a new publisher
   * may already have come (media sent while the publish hook was pending). RTMFP uses it for Flow Sync.
   */
  onPublishing?(running: boolean): void;
}

/** `Subscriber.skip` bits: a frame is skipped when its bit is set (`FanOut` ANDs them). */
export const SkipBit = { AUDIO: 1, VIDEO: 2, PAUSED: 4 } as const;

/**
 * The data-plane side of one subscription: the sink, the drop policy and the filters a player or
 * a script sets (receiveAudio, receiveVideo, pause). It lives on the thread of the sink; the
 * core's `Listener` holds it (or, for a session in a media worker, a proxy that forwards the
 * settings) as its `SubscriptionControl`.
 */
export class Subscriber {
  readonly drops: DropPolicy;
  /** SkipBit of what is filtered out now. */
  skip = 0;
  /** Its queue as the thread's QueueBudget last noted it. */
  noted = 0;
  /** The fan-out it is in, or null. */
  fanOut: { remove(subscriber: Subscriber): void } | null = null;

  constructor(
    readonly sink: SubscriberSink,
    limits: SubscriberLimits,
  ) {
    this.drops = new DropPolicy(limits.maxQueuedBytes, limits.timeoutMs);
  }

  get receiveAudio(): boolean {
    return (this.skip & SkipBit.AUDIO) === 0;
  }

  set receiveAudio(on: boolean) {
    this.skip = on ? this.skip & ~SkipBit.AUDIO : this.skip | SkipBit.AUDIO;
  }

  get receiveVideo(): boolean {
    return (this.skip & SkipBit.VIDEO) === 0;
  }

  /** Video back on starts at the next keyframe. */
  set receiveVideo(on: boolean) {
    if (on && !this.receiveVideo) {
      this.drops.waitForKeyframe();
    }
    this.skip = on ? this.skip & ~SkipBit.VIDEO : this.skip | SkipBit.VIDEO;
  }

  get paused(): boolean {
    return (this.skip & SkipBit.PAUSED) !== 0;
  }

  /** Unpausing starts at the next keyframe. */
  set paused(on: boolean) {
    if (!on && this.paused) {
      this.drops.waitForKeyframe();
    }
    this.skip = on ? this.skip | SkipBit.PAUSED : this.skip & ~SkipBit.PAUSED;
  }

  get droppedFrames(): number {
    return this.drops.dropped;
  }

  /** Leaves its fan-out (no more frames). */
  detach(): void {
    this.fanOut?.remove(this);
  }
}
