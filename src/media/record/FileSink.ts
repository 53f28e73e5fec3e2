import { constants } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Patch } from './MediaMuxer.js';

export interface FileSinkOptions {
  /** Append to the file (else it is replaced). */
  append: boolean;
  /** When appending, first cut the file to this size (the end of its last complete tag). */
  truncateTo?: number;
  /** Bytes that may wait for the disk; past it the sink fails (the disk cannot keep up). */
  maxQueuedBytes: number;
  /** Runs on the file's folder once it exists, before the file is opened: throws to refuse it. */
  checkFolder?: (folder: string) => Promise<void>;
}

/** IOV_MAX on Linux and macOS: buffers one writev may take. */
const MAX_BATCH = 1024;

/**
 * A file written in the background: `write` queues buffers and returns at once, one loop hands
 * what is queued to the disk (`writev`, in order) while the event loop goes on, so a recording
 * never blocks the thread that serves the streams. Writes are positional, from 0 (the file is
 * replaced) or from its end (appended). The queue is bounded; past the bound, or on
 * the first error (disk full, the folder gone), the sink stops: it reports that once
 * (`onError`), drops what waits and closes the file. `close` resolves once everything queued
 * before it is written and the file is closed (or the sink failed).
 */
export class FileSink {
  bytesWritten = 0;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private closing = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private position = 0;
  private patches: readonly Patch[] = [];
  private readonly done: Promise<void>;

  constructor(
    readonly file: string,
    private readonly options: FileSinkOptions,
    private readonly onError: (err: Error) => void,
  ) {
    this.done = this.run();
  }

  /** Why the sink stopped, or null while it writes. */
  get error(): Error | null {
    return this.failure;
  }

  /** Bytes waiting for the disk. */
  get pending(): number {
    return this.queuedBytes;
  }

  /** Queues `chunks` (kept, not copied: they must not change); false once the sink stopped. */
  write(chunks: readonly Buffer[]): boolean {
    if (this.failure !== null || this.closing) {
      return false;
    }
    for (const chunk of chunks) {
      if (chunk.length > 0) {
        this.queue.push(chunk);
        this.queuedBytes += chunk.length;
      }
    }
    if (this.queuedBytes > this.options.maxQueuedBytes) {
      this.fail(new Error(`${this.queuedBytes} bytes wait for the disk (more than ${this.options.maxQueuedBytes}): it cannot keep up`));
      return false;
    }
    this.poke();
    return true;
  }

  /**
   * No more writes: resolves once what was queued is on disk, then `patches` (bytes that replace
   * some written earlier), and the file is closed.
   */
  close(patches: readonly Patch[] = []): Promise<void> {
    if (!this.closing) {
      this.patches = patches;
    }
    this.closing = true;
    this.poke();
    return this.done;
  }

  private poke(): void {
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
  }

  private fail(err: Error): void {
    if (this.failure !== null) {
      return;
    }
    this.failure = err;
    this.queue = [];
    this.queuedBytes = 0;
    this.poke();
    this.onError(err);
  }

  private async run(): Promise<void> {
    let handle: FileHandle | null = null;
    try {
      const folder = dirname(this.file);
      await mkdir(folder, { recursive: true });
      await this.options.checkFolder?.(folder);
      // Never through a symbolic link: the file is where its name says. Writes are positional
      // (no O_APPEND, which would move patches to the end).
      const flags = constants.O_WRONLY | constants.O_CREAT | (this.options.append ? 0 : constants.O_TRUNC) | (constants.O_NOFOLLOW ?? 0);
      handle = await open(this.file, flags, 0o644);
      if (this.options.append) {
        if (this.options.truncateTo !== undefined) {
          await handle.truncate(this.options.truncateTo);
        }
        this.position = (await handle.stat()).size;
      }
      for (;;) {
        if (this.failure !== null) {
          break;
        }
        if (this.queue.length === 0) {
          if (this.closing) {
            for (const patch of this.patches) {
              await handle.write(patch.bytes, 0, patch.bytes.length, patch.at);
            }
            break;
          }
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
        this.queue = batch === this.queue ? [] : this.queue.slice(MAX_BATCH);
        await this.writeAll(handle, batch);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      if (handle !== null) {
        await handle.close().catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
      }
    }
  }

  private async writeAll(handle: FileHandle, batch: Buffer[]): Promise<void> {
    let buffers = batch;
    let size = 0;
    for (const b of buffers) {
      size += b.length;
    }
    while (size > 0 && this.failure === null) {
      const { bytesWritten } = await handle.writev(buffers, this.position);
      this.position += bytesWritten;
      this.bytesWritten += bytesWritten;
      this.queuedBytes = Math.max(0, this.queuedBytes - bytesWritten);
      size -= bytesWritten;
      if (size > 0) {
        // A short write: go on from where it stopped.
        let skip = bytesWritten;
        while (skip >= buffers[0].length) {
          skip -= buffers[0].length;
          buffers = buffers.slice(1);
        }
        buffers = [buffers[0].subarray(skip), ...buffers.slice(1)];
      }
    }
  }
}
