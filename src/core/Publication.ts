import { MediaFeed } from '../media/MediaFeed.js';
import type { MediaFrame } from '../media/MediaFrame.js';
import type { MediaOutput } from '../media/MediaOutput.js';
import { RateMeter } from '../media/RateMeter.js';
import type { SubscriberLimits } from '../media/Subscriber.js';
import { Logger } from '../util/Logger.js';
import type { Client } from './Client.js';
import type { Listener } from './Listener.js';
import { readMetadata } from './metadata.js';

const log = new Logger('publication');

export interface PublicationOptions {
  gopCache: boolean;
  gopCacheMaxBytes: number;
}

let nextId = 1;

/**
 * A named stream (names are global to the server, as in MonaServer). It exists while it has a
 * publisher or listeners: a player may subscribe before the publisher arrives and gets the stream
 * when it does. Its frames go through its `feed` (the cache and the outputs: this thread's
 * subscribers, media workers, script taps); `listeners` is the registry scripts see.
 */
export class Publication {
  /** Unique for the process: names a publication across threads (a name may be reused later). */
  readonly id = nextId++;
  publisher: Client | null = null;
  /** True while someone (a client, a script, a mesh relay) publishes. */
  running = false;
  readonly listeners = new Set<Listener>();
  /** Metadata (`onMetaData` object), or null. */
  properties: Record<string, unknown> | null = null;
  lastTime = 0;
  /** Frames and bytes received since the publisher started (for QoS and logs). */
  frames = 0;
  bytes = 0;
  /** Byte rates per kind and frame rate (API, metrics, QOS). */
  readonly meter = new RateMeter();
  /** When the current publisher started (ms since the epoch), 0 while not running. */
  startedAt = 0;
  readonly feed: MediaFeed;

  constructor(
    readonly name: string,
    options: PublicationOptions,
    limits: SubscriberLimits,
  ) {
    this.feed = new MediaFeed(options, limits, (err) => log.error(`${name}: an output failed: ${String(err)}`));
  }

  /**
   * One frame from the publisher (or a script, or the mesh). `origin`: the output that already
   * delivered it (a media worker that serves its own subscribers where the publisher is).
   */
  push(frame: MediaFrame, origin: MediaOutput | null = null): void {
    this.lastTime = frame.timestamp;
    this.frames++;
    this.bytes += frame.payload.length;
    this.meter.add(frame.kind, frame.payload.length, Date.now());
    if (frame.isMetadata) {
      this.properties = readMetadata(frame.payload);
    }
    this.feed.push(frame, origin);
  }

  /** Frames the subscribers of this publication did not get (dropped to a keyframe). */
  get droppedFrames(): number {
    let dropped = 0;
    for (const listener of this.listeners) {
      dropped += listener.droppedFrames;
    }
    return dropped;
  }

  attach(listener: Listener): void {
    this.listeners.add(listener);
  }

  detach(listener: Listener): void {
    this.listeners.delete(listener);
  }

  start(publisher: Client | null): void {
    this.publisher = publisher;
    this.running = true;
    this.frames = 0;
    this.bytes = 0;
    this.meter.reset();
    this.startedAt = Date.now();
    this.feed.start();
    for (const listener of this.listeners) {
      listener.owner.onPublisherChange(listener, true);
    }
  }

  stop(): void {
    this.publisher = null;
    this.running = false;
    this.properties = null;
    this.startedAt = 0;
    this.feed.stop();
    for (const listener of this.listeners) {
      listener.owner.onPublisherChange(listener, false);
    }
  }

  get idle(): boolean {
    return !this.running && this.listeners.size === 0;
  }
}
