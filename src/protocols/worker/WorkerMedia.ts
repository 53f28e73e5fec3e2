import { MediaFeed, type FeedOptions } from '../../media/MediaFeed.js';
import { MediaFrame } from '../../media/MediaFrame.js';
import type { Subscriber, SubscriberLimits } from '../../media/Subscriber.js';
import type { FrameTarget, SessionMedia } from '../flash/SessionMedia.js';
import { type FromWorker, type ToWorker, asBuffer, wireFrame } from './MediaChannel.js';

type Post = (message: FromWorker, moved?: readonly ArrayBuffer[]) => void;

/**
 * A publication as a media worker serves it: a feed of its own (cache and the fan-out of this
 * worker's subscribers), fed once per frame by the main thread, or directly by a publisher of
 * this worker, whose frames then go on to the main thread once (for the cache there, scripts,
 * other workers, the mesh). Subscribers here never wait for the main thread.
 */
class Mirror implements FrameTarget {
  readonly feed: MediaFeed;

  constructor(
    readonly id: number,
    readonly name: string,
    options: FeedOptions,
    limits: SubscriberLimits,
    private readonly post: Post,
  ) {
    this.feed = new MediaFeed(options, limits);
  }

  /** A frame from a publisher of this worker. */
  push(frame: MediaFrame): void {
    this.feed.push(frame);
    const wire = wireFrame(frame.kind, frame.timestamp, frame.payload);
    this.post({ op: 'frame', feed: this.id, ...wire }, [wire.payload.buffer as ArrayBuffer]);
  }
}

const frameOf = (kind: number, timestamp: number, payload: Uint8Array): MediaFrame => new MediaFrame(kind as MediaFrame['kind'], timestamp, asBuffer(payload));

/**
 * The media side of a media worker: the mirrors the main thread opened, and what its sessions'
 * streams play and publish (SessionMedia of each session, found by `mediaOf`).
 */
export class WorkerMedia {
  private readonly mirrors = new Map<number, Mirror>();
  private readonly reported = new WeakMap<Subscriber, number>();

  constructor(
    private readonly options: FeedOptions,
    private readonly limits: SubscriberLimits,
    private readonly post: Post,
    private readonly mediaOf: (sid: number) => SessionMedia | undefined,
    private readonly sessions: () => Iterable<[number, SessionMedia]>,
  ) {}

  /** Runs a media message; false when `message` is not one. */
  handle(message: ToWorker): boolean {
    switch (message.op) {
      case 'openFeed': {
        const mirror = new Mirror(message.feed, message.name, this.options, this.limits, this.post);
        for (const f of message.cache) {
          mirror.feed.cache.add(frameOf(f.kind, f.timestamp, f.payload));
        }
        mirror.feed.cache.hasVideo ||= message.hasVideo;
        mirror.feed.running = message.running;
        this.mirrors.set(message.feed, mirror);
        return true;
      }
      case 'feedState': {
        const feed = this.mirrors.get(message.feed)?.feed;
        if (message.running) {
          feed?.start();
        } else {
          feed?.stop();
        }
        return true;
      }
      case 'closeFeed': {
        this.mirrors.delete(message.feed);
        return true;
      }
      case 'frame': {
        this.mirrors.get(message.feed)?.feed.push(frameOf(message.kind, message.timestamp, message.payload));
        return true;
      }
      case 'play': {
        const mirror = this.mirrors.get(message.feed);
        const media = this.mediaOf(message.sid);
        if (mirror !== undefined && media !== undefined) {
          const subscriber = media.play(message.streamId, mirror.feed);
          subscriber.receiveAudio = message.audio;
          subscriber.receiveVideo = message.video;
          subscriber.paused = message.paused;
        }
        return true;
      }
      case 'subscriber': {
        const subscriber = this.mediaOf(message.sid)?.player(message.streamId);
        if (subscriber !== undefined) {
          subscriber.receiveAudio = message.audio;
          subscriber.receiveVideo = message.video;
          subscriber.paused = message.paused;
        }
        return true;
      }
      case 'stopPlaying': {
        this.mediaOf(message.sid)?.stopPlaying(message.streamId);
        return true;
      }
      case 'publish': {
        const mirror = this.mirrors.get(message.feed);
        if (mirror !== undefined) {
          this.mediaOf(message.sid)?.publish(message.streamId, mirror);
        }
        return true;
      }
      case 'stopPublishing': {
        this.mediaOf(message.sid)?.stopPublishing(message.streamId);
        return true;
      }
      default: {
        return false;
      }
    }
  }

  /** The drop counts that changed since the last report (for the scripts' `listener.droppedFrames`). */
  reportDrops(): void {
    const sids: number[] = [];
    const streams: number[] = [];
    const counts: number[] = [];
    for (const [sid, media] of this.sessions()) {
      for (const [streamId, subscriber] of media.playingStreams) {
        const dropped = subscriber.droppedFrames;
        if (dropped !== (this.reported.get(subscriber) ?? 0)) {
          this.reported.set(subscriber, dropped);
          sids.push(sid);
          streams.push(streamId);
          counts.push(dropped);
        }
      }
    }
    if (sids.length > 0) {
      this.post({ op: 'dropped', sids, streams, counts });
    }
  }
}
