import { TimestampUnwrapper } from '../../http/hls/Timeline.js';
import type { MediaFeed } from '../MediaFeed.js';
import { FrameKind, type MediaFrame } from '../MediaFrame.js';
import type { MediaOutput } from '../MediaOutput.js';
import type { FileSink } from './FileSink.js';
import type { MediaMuxer } from './MediaMuxer.js';

export interface RecorderEvents {
  /** The recording stopped: `error` null when its publisher left (or it was stopped), else why it failed. */
  onEnd(recorder: Recorder, error: Error | null): void;
}

/**
 * One recording: an output of a publication's feed that muxes each frame (MediaMuxer) and
 * queues the bytes on a FileSink, so the file is written in the background. It records from the
 * moment it joins the feed: joining a running publication, it starts from the feed's cache
 * (metadata, decoder configurations, the frames since the last keyframe). It ends when the
 * publisher leaves, when `stop` is called, or when the sink fails (the disk is full or too slow):
 * then it leaves the feed and the publication and its players go on as if it never was.
 *
 * Timestamps: the first coded frame is at `timeOffset` (0, or where an appended file ended) and
 * the others follow it on one unwrapped clock (a 32-bit wrap or a publisher's clock reset does
 * not jump); decoder configurations and data messages take the time of the frame before them.
 */
export class Recorder implements MediaOutput {
  frames = 0;
  private readonly clock = new TimestampUnwrapper();
  private base: number | null = null;
  private last: number;
  private stopped = false;
  /** Resolves once the file is complete and closed (after the recording ended). */
  closed: Promise<void> = Promise.resolve();

  constructor(
    private readonly feed: MediaFeed,
    private readonly muxer: MediaMuxer,
    readonly sink: FileSink,
    private readonly events: RecorderEvents,
    private readonly timeOffset = 0,
  ) {
    this.last = timeOffset;
  }

  get file(): string {
    return this.sink.file;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Joins the feed; a publication that runs already is recorded from its cache on. */
  start(): this {
    if (this.feed.running) {
      for (const frame of this.feed.cache.snapshot()) {
        this.writeFrame(frame);
      }
    }
    this.feed.add(this);
    return this;
  }

  writeFrame(frame: MediaFrame): void {
    if (this.stopped) {
      return;
    }
    const out: Buffer[] = [];
    try {
      this.muxer.write(frame.kind, this.time(frame), frame.payload, out);
    } catch (err) {
      // A muxer bug, never the publisher's bytes (muxers skip what they cannot place): stop once.
      this.finish(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.frames++;
    if (out.length > 0 && !this.sink.write(out)) {
      this.finish(this.sink.error);
    }
  }

  onPublishing(running: boolean): void {
    if (!running) {
      this.stop();
    }
  }

  /** Ends the recording: what the muxer holds is written and the file closed (in the background). */
  stop(): void {
    this.finish(null);
  }

  /** The sink failed (called by whoever made it). */
  failed(err: Error): void {
    this.finish(err);
  }

  private finish(error: Error | null): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    this.feed.remove(this);
    if (error === null) {
      const out: Buffer[] = [];
      this.muxer.end(out);
      this.sink.write(out);
    }
    this.closed = this.sink.close(error === null ? (this.muxer.patches?.() ?? []) : []);
    this.events.onEnd(this, error);
  }

  private time(frame: MediaFrame): number {
    if (frame.isConfig || frame.kind === FrameKind.DATA) {
      return this.last;
    }
    const ms = this.clock.unwrap(frame.timestamp);
    this.base ??= ms;
    this.last = this.timeOffset + Math.max(0, ms - this.base);
    return this.last;
  }
}
