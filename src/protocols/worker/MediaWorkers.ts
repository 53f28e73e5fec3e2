import { errorMessage } from '../../errors.js';
import type { Logger } from '../../util/Logger.js';
import type { FromWorker, MainRequests, RequestHandlers } from './MediaChannel.js';
import { type WorkerHandle, type WorkerHost, type WorkerSetup, startWorker } from './MediaWorkerPool.js';

/** A protocol's part in the media workers: the messages of its sessions, and a worker's end. */
export interface WorkerProtocol {
  /** Handles `message` if it is one of this protocol's; false otherwise. */
  onWorkerMessage(handle: WorkerHandle, message: FromWorker): boolean;
  /** A worker died: this protocol's sessions there are gone. */
  onWorkerGone(handle: WorkerHandle): void;
}

/**
 * The media worker threads (architecture.md §2), shared by RTMP and RTMFP: worker i has an RTMFP
 * socket when i < RTMFP.workers and takes RTMP sessions when i < RTMP.workers. A worker that
 * dies closes only its sessions and is replaced.
 */
export class MediaWorkers implements WorkerHost {
  private live: WorkerHandle[] = [];
  private readonly protocols: WorkerProtocol[] = [];
  private stopping = false;

  constructor(
    readonly count: number,
    /** The setup of worker i. */
    private readonly setupOf: (index: number) => Omit<WorkerSetup, 'logLevel' | 'checkPosts'>,
    readonly requests: RequestHandlers<MainRequests>,
    private readonly log: Logger,
  ) {}

  /** Workers up now, by index order of start (a restarted one comes last). */
  get handles(): readonly WorkerHandle[] {
    return this.live;
  }

  join(protocol: WorkerProtocol): void {
    this.protocols.push(protocol);
  }

  async start(): Promise<void> {
    this.live = await Promise.all(Array.from({ length: this.count }, (_, i) => startWorker(this.setupOf(i), this.log, this)));
  }

  onMessage(handle: WorkerHandle, message: FromWorker): void {
    for (const protocol of this.protocols) {
      if (protocol.onWorkerMessage(handle, message)) {
        return;
      }
    }
  }

  /** A worker stopped on its own (a crash): its sessions close, a new worker takes its place. */
  onExit(handle: WorkerHandle, code: number): void {
    if (this.stopping) {
      return;
    }
    this.log.error(`media worker ${handle.index} stopped (exit code ${code}); its sessions are closed and the worker restarted`);
    this.live = this.live.filter((w) => w !== handle);
    for (const protocol of this.protocols) {
      protocol.onWorkerGone(handle);
    }
    startWorker(this.setupOf(handle.index), this.log, this).then(
      (replacement) => {
        if (this.stopping) {
          void replacement.worker.terminate();
          return;
        }
        this.live.push(replacement);
        this.log.info(`media worker ${handle.index} restarted${replacement.port > 0 ? ` on port ${replacement.port}` : ''}`);
      },
      (err: unknown) => this.log.error(`media worker ${handle.index} could not restart: ${errorMessage(err)}`),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.live.map(async (handle) => {
        const stopped = handle.channel.request('stop', {}).catch((err: unknown) => this.log.debug(`media worker ${handle.index}: ${errorMessage(err)}`));
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
        await Promise.race([stopped, timeout]);
        await handle.worker.terminate();
      }),
    );
    this.live = [];
  }
}
