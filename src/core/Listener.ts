import type { Client } from './Client.js';
import type { Publication } from './Publication.js';

/** What the protocol's control plane does for a listener (its statuses). */
export interface ListenerOwner {
  /** The publication got a publisher (NetStream.Play.PublishNotify) or lost it (UnpublishNotify). */
  onPublisherChange(listener: Listener, running: boolean): void;
}

/**
 * The data-plane end of a subscription as the control plane sees it: the `Subscriber` itself
 * when the session is on this thread, a proxy that forwards the settings when it is in a media
 * worker.
 */
export interface SubscriptionControl {
  receiveAudio: boolean;
  receiveVideo: boolean;
  paused: boolean;
  readonly droppedFrames: number;
}

/**
 * A subscription of one client to one publication (MonaServer's `listener`), as the core and the
 * scripts see it. Frames do not go through it: the protocol attached a subscriber to the
 * publication's outputs (`subscription`), whose filters its properties set.
 */
export class Listener {
  /** No more frames are written (unsubscribed, or closed for lagging). */
  closed = false;
  /** `Core.unsubscribe` ran (the onUnsubscribe hook fires once). */
  released = false;
  /** Set by the protocol once the subscriber is attached; null for a listener without delivery. */
  subscription: SubscriptionControl | null = null;
  private audio = true;
  private video = true;

  constructor(
    readonly client: Client | null,
    readonly publication: Publication,
    readonly owner: ListenerOwner,
    /** Query after the stream name (`name?a=1` → { a: '1' }). */
    readonly parameters: Record<string, string>,
  ) {}

  get receiveAudio(): boolean {
    return this.subscription?.receiveAudio ?? this.audio;
  }

  set receiveAudio(on: boolean) {
    this.audio = on;
    if (this.subscription !== null) {
      this.subscription.receiveAudio = on;
    }
  }

  get receiveVideo(): boolean {
    return this.subscription?.receiveVideo ?? this.video;
  }

  set receiveVideo(on: boolean) {
    this.video = on;
    if (this.subscription !== null) {
      this.subscription.receiveVideo = on;
    }
  }

  get droppedFrames(): number {
    return this.subscription?.droppedFrames ?? 0;
  }
}
