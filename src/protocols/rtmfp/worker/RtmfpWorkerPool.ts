import { Worker } from 'node:worker_threads';
import { type LogLevel, getLogLevel, type Logger } from '../../../util/Logger.js';
import type { DataPlaneOptions } from '../RtmfpDataPlane.js';
import type { FrameBatch, FromWorker, SessionCommands, ToWorker } from '../SessionLink.js';

/** The worker entry, as .ts under tsx (tests, which also need tsx in the worker) and .js once built. */
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './rtmfpWorker.ts' : './rtmfpWorker.js', import.meta.url);

/**
 * One media worker seen from the main thread: its port, its sessions' queue sizes, and the frame
 * batch of the current event-loop turn (one message per turn carries every frame for all the
 * worker's subscribers: media crosses once per frame per worker).
 */
/**
 * V8's young generation of a media worker. Left alone it grows to 32 MiB per isolate under a
 * fan-out's allocation rate, whatever the number of sessions: at 300 subscribers on 2 workers,
 * 296 KiB of RSS per session with it, 223 KiB with 12 MiB, for the same CPU per subscriber
 * (bench/macro/rtmfpFanout.ts, native w2). The main thread keeps Node's default (a node option:
 * `--max-semi-space-size`).
 */
const MEDIA_WORKER_YOUNG_GENERATION_MB = 12;

export class WorkerHandle {
  port = 0;
  sessions = 0;
  readonly queues = new Map<number, number>();
  private readonly batches = new Map<Buffer, FrameBatch>();
  private scheduled = false;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {}

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  queueFrame(sid: number, streamId: number, message: Buffer, kind: number, config: boolean): void {
    let batch = this.batches.get(message);
    if (batch === undefined) {
      batch = { message, kind, config, targets: [] };
      this.batches.set(message, batch);
    }
    batch.targets.push(sid, streamId);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flushFrames());
    }
  }

  private flushFrames(): void {
    this.scheduled = false;
    const frames = [...this.batches.values()];
    this.batches.clear();
    this.post({ op: 'frames', frames });
  }
}

/** The control half's view of a data half that lives in a worker. */
export class RemoteCommands implements SessionCommands {
  constructor(
    private readonly handle: WorkerHandle,
    private readonly sid: number,
  ) {}

  writeTc(streamId: number, message: Buffer): void {
    this.handle.post({ op: 'tc', sid: this.sid, streamId, message });
  }

  writeFrame(streamId: number, message: Buffer, kind: number, config: boolean): void {
    this.handle.queueFrame(this.sid, streamId, message, kind, config);
  }

  finishStream(streamId: number): void {
    this.handle.post({ op: 'finishStream', sid: this.sid, streamId });
  }

  writeGroup(clientFlowId: number, message: Buffer): void {
    this.handle.post({ op: 'group', sid: this.sid, flowId: clientFlowId, message });
  }

  queueChunk(chunk: Buffer): void {
    this.handle.post({ op: 'chunk', sid: this.sid, chunk });
  }

  close(reason: string, graceful: boolean): void {
    this.handle.post({ op: 'close', sid: this.sid, reason, graceful });
  }

  queuedBytes(): number {
    return this.handle.queues.get(this.sid) ?? 0;
  }
}

/** Starts `count` media workers, each binding its own UDP port; resolves once all listen. */
export type WorkerOptions = Omit<DataPlaneOptions, 'sidPrefix' | 'port'> & { firstPort: number };

/**
 * Starts media worker `index`, bound to its own UDP port; resolves once it listens. `onExit`
 * hears of a worker that stops afterwards (a crash: its sessions are gone, the pool replaces it).
 */
export const startWorker = (
  index: number,
  options: WorkerOptions,
  log: Logger,
  onMessage: (handle: WorkerHandle, message: FromWorker) => void,
  onExit: (handle: WorkerHandle, code: number) => void,
): Promise<WorkerHandle> => {
  // From sources (tests under tsx) the worker registers tsx itself before loading the entry.
  const entry = fromSource
    ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); })`
    : workerUrl;
  const worker = new Worker(entry, {
    eval: fromSource,
    resourceLimits: { maxYoungGenerationSizeMb: MEDIA_WORKER_YOUNG_GENERATION_MB },
    workerData: {
      index,
      logLevel: getLogLevel(),
      options: { ...options, port: options.firstPort === 0 ? 0 : options.firstPort + index, sidPrefix: index + 1 },
    },
  });
  const handle = new WorkerHandle(index, worker);
  return new Promise<WorkerHandle>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: FromWorker) => {
      if (message.op === 'listening') {
        handle.port = message.port;
        worker.off('error', reject);
        worker.on('error', (err) => log.error(`media worker ${index}: ${err.message}`));
        resolve(handle);
        return;
      }
      if (message.op === 'log') {
        log.log(message.level as LogLevel, message.message);
        return;
      }
      onMessage(handle, message);
    });
    worker.once('exit', (code) => {
      if (handle.port === 0) {
        reject(new Error(`media worker ${index} exited with code ${code}`));
      } else {
        onExit(handle, code);
      }
    });
  });
};
