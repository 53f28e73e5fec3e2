import { FrameCache } from '../media/FrameCache.js';
import { FrameKind, type MediaFrame } from '../media/MediaFrame.js';
import { Verdict } from '../media/DropPolicy.js';
import type { Client } from './Client.js';
import type { Listener } from './Listener.js';
import { Logger } from '../util/Logger.js';
import { readMetadata } from './metadata.js';

const log = new Logger('publication');

export interface PublicationOptions {
  gopCache: boolean;
  gopCacheMaxBytes: number;
}

/** Called for every frame when a script defined `publication:onVideo/onAudio/onData`; null costs one check. */
export type FrameObserver = (publication: Publication, frame: MediaFrame) => void;

/**
 * A named stream (names are global to the server, as in MonaServer). It exists while it has a
 * publisher or listeners: a player may subscribe before the publisher arrives and gets the stream
 * when it does. `push` is the hot path: cache update, then one `writeFrame` per listener, where
 * the sink reuses the frame's memoized wire bytes.
 */
export class Publication {
  publisher: Client | null = null;
  /** True while someone (a client, a script, a mesh relay) publishes. */
  running = false;
  readonly listeners = new Set<Listener>();
  /** Metadata (`onMetaData` object), or null. */
  properties: Record<string, unknown> | null = null;
  lastTime = 0;
  droppedFrames = 0;
  /** Frames and bytes received since the publisher started (for QoS and logs). */
  frames = 0;
  bytes = 0;
  observer: FrameObserver | null = null;
  readonly cache: FrameCache;

  constructor(
    readonly name: string,
    options: PublicationOptions,
  ) {
    this.cache = new FrameCache(options.gopCache, options.gopCacheMaxBytes);
  }

  push(frame: MediaFrame): void {
    this.lastTime = frame.timestamp;
    this.frames++;
    this.bytes += frame.payload.length;
    this.cache.add(frame);
    if (frame.isMetadata) {
      this.properties = readMetadata(frame.payload);
    }
    if (this.observer !== null) {
      try {
        this.observer(this, frame);
      } catch (err) {
        log.error(`${this.name}: frame observer failed: ${String(err)}`);
      }
    }
    if (this.listeners.size === 0) {
      return;
    }
    // The per-listener loop (the fan-out hot path): the steady state is one filter check, one
    // queued-bytes read compared with one field, and the sink's write; anything else (drops, lagging,
    // closing) goes through `deliverSlow`.
    const config = frame.isConfig;
    const kind = frame.kind;
    const hasVideo = this.cache.hasVideo;
    let now = 0;
    for (const listener of this.listeners) {
      if (!config && (kind === FrameKind.AUDIO ? !listener.receiveAudio : kind === FrameKind.VIDEO && !listener.receiveVideo)) {
        continue;
      }
      // The sink's direct path when it gave one (the same thing through fewer objects).
      const outlet = listener.outlet;
      const queued = outlet !== null ? outlet.queuedBytes : listener.sink.queuedBytes;
      if (listener.drops.sends(queued)) {
        if (outlet !== null) {
          outlet.writeFrame(frame);
        } else {
          listener.sink.writeFrame(frame, listener);
        }
      } else {
        if (now === 0) {
          now = Date.now();
        }
        this.deliverSlow(listener, frame, queued, hasVideo, now);
      }
    }
  }

  private deliver(listener: Listener, frame: MediaFrame, hasVideo: boolean, now: number): void {
    if (!frame.isConfig) {
      if (frame.kind === FrameKind.AUDIO ? !listener.receiveAudio : frame.kind === FrameKind.VIDEO && !listener.receiveVideo) {
        return;
      }
    }
    const outlet = listener.outlet;
    this.deliverSlow(listener, frame, outlet !== null ? outlet.queuedBytes : listener.sink.queuedBytes, hasVideo, now);
  }

  /** The drop policy's full verdict (any frame the steady-state check did not let through). */
  private deliverSlow(listener: Listener, frame: MediaFrame, queuedBytes: number, hasVideo: boolean, now: number): void {
    const verdict = listener.drops.judge(frame, queuedBytes, hasVideo, now);
    if (verdict === Verdict.SEND) {
      const outlet = listener.outlet;
      if (outlet !== null) {
        outlet.writeFrame(frame);
      } else {
        listener.sink.writeFrame(frame, listener);
      }
    } else if (verdict === Verdict.CLOSE) {
      this.listeners.delete(listener);
      listener.closed = true;
      listener.sink.onListenerClose(listener, 'subscriber too slow: stayed behind past media.subscriberTimeout');
    }
  }

  /** Attach a listener and bring it up to date (metadata, decoder configs, last GOP). */
  attach(listener: Listener): void {
    this.listeners.add(listener);
    if (!this.running) {
      return;
    }
    this.sendSnapshot(listener);
  }

  private sendSnapshot(listener: Listener): void {
    const snapshot = this.cache.snapshot();
    if (this.cache.hasVideo && this.cache.gopFrameCount === 0) {
      listener.drops.waitForKeyframe();
    }
    const now = Date.now();
    for (const frame of snapshot) {
      this.deliver(listener, frame, this.cache.hasVideo, now);
    }
  }

  detach(listener: Listener): void {
    this.listeners.delete(listener);
  }

  start(publisher: Client | null): void {
    this.publisher = publisher;
    this.running = true;
    this.frames = 0;
    this.bytes = 0;
    this.droppedFrames = 0;
    for (const listener of this.listeners) {
      listener.drops.reset();
      listener.sink.onPublisherChange(listener, true);
    }
  }

  stop(): void {
    this.publisher = null;
    this.running = false;
    this.properties = null;
    this.cache.reset();
    for (const listener of this.listeners) {
      listener.sink.onPublisherChange(listener, false);
    }
  }

  get idle(): boolean {
    return !this.running && this.listeners.size === 0;
  }
}
