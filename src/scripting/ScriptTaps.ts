import type { Publication } from '../core/Publication.js';
import { DropPolicy, Verdict } from '../media/DropPolicy.js';
import type { MediaFrame } from '../media/MediaFrame.js';
import type { MediaOutput } from '../media/MediaOutput.js';
import { type ServerDirectory, noServers } from './ServerDirectory.js';
import { Logger } from '../util/Logger.js';

const log = new Logger('script');

/** A runtime's media hooks for one publication (`publication:onVideo` and friends). */
export type FrameObserver = (publication: Publication, frame: MediaFrame) => void;

/**
 * The script tap of one publication: an output of its feed while a script defined a media hook
 * on it. Frames wait in a queue and the hooks run on the next turn (setImmediate), after this
 * turn's fan-out left (the players' turn batch, the workers' posts), so a slow `onVideo` never
 * delays players; when the publisher leaves, what waits runs at once, before `onUnpublish`. Its
 * drop policy looks at what waits here plus what the scripts' mesh links have
 * not sent yet (`ServerDirectory.backlog`: relaying through `server:send` is the main use): past
 * `limitBytes` the scripts skip frames up to the next keyframe; decoder configurations and
 * metadata always reach them.
 */
class ScriptTap implements MediaOutput {
  observers: FrameObserver[] = [];
  private queue: MediaFrame[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private readonly drops: DropPolicy;
  private readonly run = (): void => this.runHooks();

  constructor(
    private readonly publication: Publication,
    private readonly servers: ServerDirectory,
    limitBytes: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.drops = new DropPolicy(limitBytes, 0);
  }

  get droppedFrames(): number {
    return this.drops.dropped;
  }

  writeFrame(frame: MediaFrame): void {
    const behind = this.queuedBytes + (this.servers.backlog?.() ?? 0);
    if (!this.drops.sends(behind) && this.drops.judge(frame, behind, this.publication.feed.cache.hasVideo, Date.now()) !== Verdict.SEND) {
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.payload.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  onPublishing(running: boolean): void {
    if (running) {
      this.drops.reset();
    } else {
      // The publisher left: the scripts see its last frames before onUnpublish, as they came.
      this.runHooks();
    }
  }

  private runHooks(): void {
    this.scheduled = false;
    if (this.queue.length === 0) {
      return;
    }
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const frame of queue) {
      // A hook that removed the tap (the script undefined its hooks) sees no later frame.
      for (const observer of this.observers) {
        try {
          observer(this.publication, frame);
        } catch (err) {
          this.onError(err);
        }
      }
    }
  }
}

/**
 * Which publications scripts watch. A publication nobody scripts has no tap in its outputs, so it
 * costs nothing per frame; several runtimes (Lua and JS) watching one publication share its tap.
 */
export class ScriptTaps {
  private readonly taps = new Map<Publication, { tap: ScriptTap; byOwner: Map<string, FrameObserver> }>();

  constructor(
    private readonly servers: ServerDirectory = noServers,
    /** servers.queueBytes: what may wait for the scripts and their mesh links before frames are skipped. */
    private readonly limitBytes = 8 * 1024 * 1024,
  ) {}

  set(publication: Publication, owner: string, observer: FrameObserver | null): void {
    let entry = this.taps.get(publication);
    if (observer === null) {
      entry?.byOwner.delete(owner);
    } else {
      if (entry === undefined) {
        entry = { tap: new ScriptTap(publication, this.servers, this.limitBytes, (err) => log.error(`publication ${publication.name}: a media hook failed: ${String(err)}`)), byOwner: new Map() };
        this.taps.set(publication, entry);
        publication.feed.add(entry.tap);
      }
      entry.byOwner.set(owner, observer);
    }
    if (entry === undefined) {
      return;
    }
    if (entry.byOwner.size === 0) {
      this.taps.delete(publication);
      entry.tap.observers = [];
      publication.feed.remove(entry.tap);
      return;
    }
    entry.tap.observers = [...entry.byOwner.values()];
  }

  /** Drops every tap of `owner` (its runtime is stopping). */
  clear(owner: string): void {
    for (const publication of [...this.taps.keys()]) {
      this.set(publication, owner, null);
    }
  }

  has(publication: Publication, owner: string): boolean {
    return this.taps.get(publication)?.byOwner.has(owner) === true;
  }

  /** Frames the scripts of `publication` skipped while they or their mesh links were behind. */
  droppedFrames(publication: Publication): number {
    return this.taps.get(publication)?.tap.droppedFrames ?? 0;
  }
}
