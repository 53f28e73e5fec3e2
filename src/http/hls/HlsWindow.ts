/**
 * What an HLS stream holds in memory and serves: the sliding window of complete segments, the
 * init segments they refer to, the growing segment's parts, and the clients waiting for a part
 * or a segment (LL-HLS blocking reload). Memory is bounded twice: `windowSize` segments, and
 * `maxWindowBytes` in all (the oldest go first, the newest always stays).
 */
import type { AudioConfig, VideoConfig } from './codecs.js';
import type { Segment } from './Segmenter.js';

export interface WindowOptions {
  segmentDuration: number;
  windowSize: number;
  partDuration: number;
  maxWindowBytes: number;
}

interface InitEntry {
  data: Buffer;
  video: VideoConfig | null;
  audio: AudioConfig | null;
}

interface Waiter {
  msn: number;
  part: number | undefined;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

const SEGMENT_NAME = /^(\d{1,15})\.m4s$/;
const PART_NAME = /^(\d{1,15})\.(\d{1,6})\.m4s$/;
const INIT_NAME = /^init\.(\d{1,9})\.mp4$/;

export class HlsWindow {
  /** Complete segments, oldest first. */
  segments: Segment[] = [];
  /** EXT-X-DISCONTINUITY tags that slid out with their segments. */
  discontinuitiesRemoved = 0;
  /** EXT-X-TARGETDURATION: never below the configured duration, never decreasing. */
  targetDuration: number;
  private bytes = 0;
  private lastComplete = -1;
  private readonly inits = new Map<number, InitEntry>();
  private nextGen = 0;
  private readonly listeners = new Set<() => void>();
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly baseName: string,
    private readonly options: WindowOptions,
    /** The segment being built (its parts are served and awaited). */
    private readonly current: () => Segment | null,
  ) {
    this.targetDuration = Math.max(1, Math.ceil(options.segmentDuration));
  }

  /** The generation of an init segment: the one already kept with the same bytes, else a new one. */
  addInit(data: Buffer, video: VideoConfig | null, audio: AudioConfig | null): number {
    for (const [gen, entry] of this.inits) {
      if (entry.data.equals(data)) {
        return gen;
      }
    }
    const gen = this.nextGen++;
    this.inits.set(gen, { data, video, audio });
    return gen;
  }

  /** `<base>.init.mp4` for the first configuration, `<base>.init.<n>.mp4` for later ones (a new URI, so no player reuses a stale one). */
  initName(gen: number): string {
    return gen === 0 ? `${this.baseName}.init.mp4` : `${this.baseName}.init.${gen}.mp4`;
  }

  /** A complete segment: into the window, the oldest out past the bounds. */
  add(segment: Segment, activeGen: number): void {
    this.segments.push(segment);
    this.bytes += segment.bytes;
    this.lastComplete = segment.seq;
    this.targetDuration = Math.max(this.targetDuration, Math.round(segment.duration));
    while (this.segments.length > this.options.windowSize || (this.bytes > this.options.maxWindowBytes && this.segments.length > 1)) {
      const removed = this.segments.shift();
      if (removed !== undefined) {
        this.bytes -= removed.bytes;
        this.discontinuitiesRemoved += removed.discontinuity ? 1 : 0;
      }
    }
    // Init segments no listed segment (nor the running configuration) needs.
    const used = new Set(this.segments.map((s) => s.gen));
    used.add(activeGen);
    const current = this.current();
    if (current !== null) {
      used.add(current.gen);
    }
    for (const gen of this.inits.keys()) {
      if (!used.has(gen)) {
        this.inits.delete(gen);
      }
    }
    this.changed();
  }

  /** Something new to serve: listeners, then waiters whose part or segment now exists. */
  changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // a listener's failure is its own; the others and the stream go on
      }
    }
    for (const waiter of this.waiters) {
      if (this.has(waiter.msn, waiter.part)) {
        this.settle(waiter, true);
      }
    }
  }

  /** The bytes of an init segment, segment or part by file name; null if unknown or slid out. */
  resource(fileName: string): Buffer | null {
    const prefix = `${this.baseName}.`;
    if (!fileName.startsWith(prefix)) {
      return null;
    }
    const rest = fileName.slice(prefix.length);
    if (rest === 'init.mp4') {
      return this.inits.get(0)?.data ?? null;
    }
    const init = INIT_NAME.exec(rest);
    if (init !== null) {
      const gen = Number(init[1]);
      return gen === 0 ? null : (this.inits.get(gen)?.data ?? null);
    }
    const segment = SEGMENT_NAME.exec(rest);
    if (segment !== null) {
      return this.find(Number(segment[1]))?.data ?? null;
    }
    const part = PART_NAME.exec(rest);
    if (part !== null && this.options.partDuration > 0) {
      const seq = Number(part[1]);
      const current = this.current();
      const owner = current !== null && current.seq === seq ? current : this.find(seq);
      return owner?.parts[Number(part[2])]?.data ?? null;
    }
    return null;
  }

  /** The configurations of the newest listed segment. */
  latestRendition(): { video: VideoConfig | null; audio: AudioConfig | null } | null {
    const last = this.segments[this.segments.length - 1];
    return last === undefined ? null : (this.inits.get(last.gen) ?? null);
  }

  /** Peak and average bit rates over the window (bits/s), null while it is empty. */
  bandwidth(): { bandwidth: number; averageBandwidth: number } | null {
    if (this.segments.length === 0) {
      return null;
    }
    let peak = 0;
    let bytes = 0;
    let duration = 0;
    for (const s of this.segments) {
      peak = Math.max(peak, Math.ceil((s.bytes * 8) / s.duration));
      bytes += s.bytes;
      duration += s.duration;
    }
    return { bandwidth: peak, averageBandwidth: Math.ceil((bytes * 8) / duration) };
  }

  waitFor(msn: number, part: number | undefined, timeoutMs: number): Promise<boolean> {
    if (this.has(msn, part)) {
      return Promise.resolve(true);
    }
    // RFC 8216bis 6.2.5.2: more than two segments past the playlist's last one (the growing
    // segment when its parts are listed) is a Bad Request, not something to wait for.
    const current = this.current();
    const last = this.options.partDuration > 0 && current !== null && current.parts.length > 0 ? current.seq : this.lastComplete;
    if (this.lastComplete >= 0 && msn > last + 2) {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      // Not unref'd: a waiter holds the process for at most timeoutMs, and close() clears it.
      const waiter: Waiter = { msn, part, resolve, timer: setTimeout(() => this.settle(waiter, false), Math.max(0, timeoutMs)) };
      this.waiters.add(waiter);
    });
  }

  onChange(listener: () => void): () => void {
    const own = (): void => listener();
    this.listeners.add(own);
    return () => {
      this.listeners.delete(own);
    };
  }

  close(): void {
    for (const waiter of this.waiters) {
      this.settle(waiter, false);
    }
    this.listeners.clear();
    this.segments = [];
    this.inits.clear();
    this.bytes = 0;
  }

  private find(seq: number): Segment | null {
    const first = this.segments[0];
    if (first === undefined) {
      return null;
    }
    return this.segments[seq - first.seq] ?? null;
  }

  /** Segment `msn` is complete, or (with `part`) that part of the growing segment exists. */
  private has(msn: number, part: number | undefined): boolean {
    if (this.lastComplete >= msn) {
      return true;
    }
    if (part === undefined) {
      return false;
    }
    const current = this.current();
    return current !== null && (current.seq > msn || (current.seq === msn && current.parts.length > part));
  }

  private settle(waiter: Waiter, ok: boolean): void {
    if (this.waiters.delete(waiter)) {
      clearTimeout(waiter.timer);
      waiter.resolve(ok);
    }
  }
}
