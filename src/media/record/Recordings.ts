import { realpath } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { Logger } from '../../util/Logger.js';
import type { MediaFeed } from '../MediaFeed.js';
import { FileSink } from './FileSink.js';
import { readFlvEnd } from './flvEnd.js';
import { FlvMuxer } from './FlvMuxer.js';
import { EXTENSIONS, type MediaFormat, type MediaMuxer, createMuxer } from './MediaMuxer.js';
import { Recorder } from './Recorder.js';
import { recordPath } from './recordPath.js';

const log = new Logger('record');

/** FMS's publish types that record: "record" replaces the file, "append" adds to it. */
export type RecordMode = 'record' | 'append';

/** The record mode of a NetStream `publish` type ("live", the default, and anything unknown record nothing). */
export const recordMode = (type: unknown): RecordMode | null =>
  type === 'record' ? 'record' : type === 'append' || type === 'appendWithGap' ? 'append' : null;

/** What `prepare` found out: where a publication is to be recorded and how. */
export interface RecordPlan {
  readonly name: string;
  readonly file: string;
  /** Add to an existing FLV file (cut to `truncateTo` first) whose media ends at `timeOffset`. */
  readonly append: boolean;
  readonly truncateTo?: number;
  readonly timeOffset: number;
  /** The appended file's onMetaData numbers to set when the recording ends (FlvMuxer). */
  readonly durationAt?: number | null;
  readonly filesizeAt?: number | null;
}

/** What may wait for the disk per recording before it is given up (the disk cannot keep up). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/**
 * The recordings of a server, in one folder (`application.recordDir`; null: recording is off):
 * NetStream `publish(name, "record" | "append")` records `<folder>/<name>.flv`, a script's media
 * writer records a publication in FLV, MP4 or MPEG-TS. One recording per file at a time; a file
 * still being written when a new recording of it is asked for is waited for (publish) or refused
 * (scripts). Names never lead out of the folder (recordPath, and symbolic links are resolved
 * before a file is opened).
 */
export class Recordings {
  private readonly active = new Map<string, Recorder>();
  /** Files whose recording ended and whose last bytes are being written. */
  private readonly closing = new Map<string, Promise<void>>();

  constructor(
    readonly folder: string | null,
    private readonly maxQueuedBytes = MAX_QUEUED_BYTES,
  ) {}

  /** Recordings running now. */
  get recorders(): IterableIterator<Recorder> {
    return this.active.values();
  }

  /**
   * Checks that stream `name` can be recorded and, to append, reads where its file ends (an
   * `append` to a file that does not exist records it). Rejects with the reason otherwise.
   */
  async prepare(name: string, mode: RecordMode): Promise<RecordPlan> {
    const file = this.fileFor(name, '.flv');
    await this.closing.get(file);
    if (this.active.has(file)) {
      throw new Error(`${name} is being recorded already`);
    }
    if (mode === 'append') {
      let end;
      try {
        end = await readFlvEnd(file);
      } catch (err) {
        throw new Error(`cannot append to ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (end !== null) {
        return { name, file, append: true, truncateTo: end.size, timeOffset: end.nextTimestamp, durationAt: end.durationAt, filesizeAt: end.filesizeAt };
      }
    }
    return { name, file, append: false, timeOffset: 0 };
  }

  /** Records `feed` as `plan` says, from now on (null if its file got busy meanwhile). */
  start(plan: RecordPlan, feed: MediaFeed): Recorder | null {
    if (this.active.has(plan.file)) {
      log.warn(`${plan.name} is not recorded: ${plan.file} is being recorded already`);
      return null;
    }
    const muxer = new FlvMuxer({ header: !plan.append, position: plan.truncateTo ?? 0, durationAt: plan.durationAt, filesizeAt: plan.filesizeAt });
    return this.begin(feed, plan.name, plan.file, muxer, plan.append, plan.truncateTo, plan.timeOffset);
  }

  /**
   * A script's recording of `feed` (publication `label`) into `<folder>/<name>` in `format` (the
   * extension is added unless `name` has it). Throws when it cannot start.
   */
  record(feed: MediaFeed, label: string, name: string, format: MediaFormat): Recorder {
    const extension = EXTENSIONS[format];
    const file = this.fileFor(name.endsWith(extension) ? name.slice(0, -extension.length) : name, extension);
    if (this.active.has(file) || this.closing.has(file)) {
      throw new Error(`${name} is being recorded already`);
    }
    return this.begin(feed, label, file, createMuxer(format), false, undefined, 0);
  }

  /** Stops every recording; resolves once every file is written and closed (the server stops). */
  async close(): Promise<void> {
    for (const recorder of [...this.active.values()]) {
      recorder.stop();
    }
    await Promise.all([...this.closing.values()]);
  }

  private fileFor(name: string, extension: string): string {
    if (this.folder === null) {
      throw new Error('recording is off (application.recordDir)');
    }
    const file = recordPath(this.folder, name, extension);
    if (file === null) {
      throw new Error(`${JSON.stringify(name)} cannot name a recording`);
    }
    return file;
  }

  private begin(feed: MediaFeed, label: string, file: string, muxer: MediaMuxer, append: boolean, truncateTo: number | undefined, timeOffset: number): Recorder {
    let recorder: Recorder | null = null;
    const sink = new FileSink(file, { append, truncateTo, maxQueuedBytes: this.maxQueuedBytes, checkFolder: (f) => this.checkFolder(f) }, (err) => recorder?.failed(err));
    recorder = new Recorder(feed, muxer, sink, { onEnd: (r, err) => this.ended(r, label, err) }, timeOffset);
    this.active.set(file, recorder);
    log.info(`recording ${label} to ${file}${append ? ` (appending after ${timeOffset} ms)` : ''}`);
    return recorder.start();
  }

  /** A folder made for a file must still be inside the record folder once symbolic links are resolved. */
  private async checkFolder(folder: string): Promise<void> {
    const root = await realpath(this.folder ?? folder);
    const inside = relative(root, await realpath(folder));
    if (inside === '..' || inside.startsWith(`..${sep}`) || inside.startsWith(sep)) {
      throw new Error(`${folder} leads out of ${root}`);
    }
  }

  private ended(recorder: Recorder, label: string, error: Error | null): void {
    const file = recorder.file;
    if (this.active.get(file) === recorder) {
      this.active.delete(file);
    }
    if (error !== null) {
      log.error(`recording ${label} to ${file} stopped: ${error.message}`);
    }
    const closed = recorder.closed.then(() => {
      if (this.closing.get(file) === closed) {
        this.closing.delete(file);
      }
      const late = recorder.sink.error;
      if (error === null && late !== null) {
        log.error(`recording ${label} to ${file} failed: ${late.message}`);
      } else if (error === null) {
        log.info(`recorded ${label} to ${file}: ${recorder.frames} frames, ${recorder.sink.bytesWritten} bytes`);
      }
    });
    this.closing.set(file, closed);
  }
}
