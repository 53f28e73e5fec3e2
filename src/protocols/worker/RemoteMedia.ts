import type { ClientTraffic } from '../../core/Client.js';
import type { SubscriptionControl } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { MediaFrame } from '../../media/MediaFrame.js';
import type { MediaOutput } from '../../media/MediaOutput.js';
import type { MediaCommands } from '../flash/SessionMedia.js';
import { type FromWorker, type ToWorker, type WireFrame, asBuffer, wireFrame } from './MediaChannel.js';

/** How the main thread reaches one worker (its handle). */
export interface WorkerLink {
  post(message: ToWorker, moved?: readonly ArrayBuffer[]): void;
}

const moved = (frames: readonly WireFrame[]): ArrayBuffer[] => frames.map((f) => f.payload.buffer as ArrayBuffer);

/**
 * A publication's output toward one media worker that plays or publishes it: each frame crosses
 * once, whatever the number of the worker's subscribers, and the worker's own fan-out (a mirror
 * of the publication) serves them, drop policies included. Frames the worker itself published
 * are not sent back (`MediaFeed.push` skips their origin).
 */
export class WorkerFeedOutput implements MediaOutput {
  /** Streams of the worker's sessions that play or publish the publication. */
  users = 0;

  constructor(
    readonly publication: Publication,
    private readonly worker: WorkerLink,
  ) {
    const cache = publication.feed.cache;
    const frames = cache.snapshot().map((f) => wireFrame(f.kind, f.timestamp, f.payload));
    worker.post(
      { op: 'openFeed', feed: publication.id, name: publication.name, running: publication.running, hasVideo: cache.hasVideo, cache: frames },
      moved(frames),
    );
    publication.feed.add(this);
  }

  writeFrame(frame: MediaFrame): void {
    const wire = wireFrame(frame.kind, frame.timestamp, frame.payload);
    this.worker.post({ op: 'frame', feed: this.publication.id, ...wire }, [wire.payload.buffer as ArrayBuffer]);
  }

  onPublishing(running: boolean): void {
    this.worker.post({ op: 'feedState', feed: this.publication.id, running });
  }

  close(): void {
    this.publication.feed.remove(this);
    this.worker.post({ op: 'closeFeed', feed: this.publication.id });
  }
}

/** A subscriber in a media worker, as its Listener steers it: settings are forwarded, drops reported back. */
export class RemoteSubscription implements SubscriptionControl {
  private audio = true;
  private video = true;
  private pause = false;
  droppedFrames = 0;

  constructor(
    private readonly worker: WorkerLink,
    private readonly sid: number,
    private readonly streamId: number,
  ) {}

  get receiveAudio(): boolean {
    return this.audio;
  }

  set receiveAudio(on: boolean) {
    this.update(on, this.video, this.pause);
  }

  get receiveVideo(): boolean {
    return this.video;
  }

  set receiveVideo(on: boolean) {
    this.update(this.audio, on, this.pause);
  }

  get paused(): boolean {
    return this.pause;
  }

  set paused(on: boolean) {
    this.update(this.audio, this.video, on);
  }

  private update(audio: boolean, video: boolean, paused: boolean): void {
    if (audio !== this.audio || video !== this.video || paused !== this.pause) {
      this.audio = audio;
      this.video = video;
      this.pause = paused;
      this.worker.post({ op: 'subscriber', sid: this.sid, streamId: this.streamId, audio, video, paused });
    }
  }
}

/**
 * The publications one media worker mirrors, seen from the main thread: one output per
 * publication while any of the worker's streams plays or publishes it.
 */
export class WorkerFeeds {
  private readonly outputs = new Map<number, WorkerFeedOutput>();

  constructor(private readonly worker: WorkerLink) {}

  /** The worker's output for `publication`, made (and the mirror opened) on first use. */
  use(publication: Publication): WorkerFeedOutput {
    let output = this.outputs.get(publication.id);
    if (output === undefined || output.publication !== publication) {
      output = new WorkerFeedOutput(publication, this.worker);
      this.outputs.set(publication.id, output);
    }
    output.users++;
    return output;
  }

  release(output: WorkerFeedOutput): void {
    if (--output.users <= 0 && this.outputs.get(output.publication.id) === output) {
      this.outputs.delete(output.publication.id);
      output.close();
    }
  }

  /** A frame a publisher of the worker sent: into its publication, not back to the worker. */
  onFrame(message: Extract<FromWorker, { op: 'frame' }>): void {
    const output = this.outputs.get(message.feed);
    if (output !== undefined && output.publication.running) {
      output.publication.push(new MediaFrame(message.kind as MediaFrame['kind'], message.timestamp, asBuffer(message.payload)), output);
    }
  }

  /** The worker is gone: its outputs leave their publications. */
  closeAll(): void {
    for (const output of this.outputs.values()) {
      output.publication.feed.remove(output);
    }
    this.outputs.clear();
  }
}

/**
 * MediaCommands of one session in a media worker: the worker's feeds for what it plays and
 * publishes, subscriptions steered from here.
 */
export class RemoteMedia implements MediaCommands {
  private readonly playing = new Map<number, { output: WorkerFeedOutput; subscription: RemoteSubscription }>();
  private readonly publishing = new Map<number, WorkerFeedOutput>();
  /** The session's Client.traffic, which the worker's reports update (set by the protocol). */
  traffic: ClientTraffic | null = null;

  constructor(
    private readonly worker: WorkerLink,
    private readonly feeds: WorkerFeeds,
    readonly sid: number,
  ) {}

  play(streamId: number, publication: Publication): SubscriptionControl {
    this.stopPlaying(streamId);
    const output = this.feeds.use(publication);
    const subscription = new RemoteSubscription(this.worker, this.sid, streamId);
    this.playing.set(streamId, { output, subscription });
    this.worker.post({ op: 'play', sid: this.sid, streamId, feed: publication.id, audio: true, video: true, paused: false });
    return subscription;
  }

  stopPlaying(streamId: number): void {
    const entry = this.playing.get(streamId);
    if (entry !== undefined) {
      this.playing.delete(streamId);
      this.worker.post({ op: 'stopPlaying', sid: this.sid, streamId });
      this.feeds.release(entry.output);
    }
  }

  publish(streamId: number, publication: Publication): void {
    this.stopPublishing(streamId);
    const output = this.feeds.use(publication);
    this.publishing.set(streamId, output);
    this.worker.post({ op: 'publish', sid: this.sid, streamId, feed: publication.id });
  }

  stopPublishing(streamId: number): void {
    const output = this.publishing.get(streamId);
    if (output !== undefined) {
      this.publishing.delete(streamId);
      this.worker.post({ op: 'stopPublishing', sid: this.sid, streamId });
      this.feeds.release(output);
    }
  }

  /** What the worker reported of the session's traffic (totals since the connection began). */
  onTraffic(received: number, sent: number, lostRate: number): void {
    const traffic = this.traffic;
    if (traffic !== null) {
      traffic.received = received;
      traffic.sent = sent;
      traffic.lostRate = lostRate;
    }
  }

  /** What the worker reported about a playing stream's drops. */
  onDropped(streamId: number, count: number): void {
    const entry = this.playing.get(streamId);
    if (entry !== undefined) {
      entry.subscription.droppedFrames = count;
    }
  }
}
