import { Worker } from 'node:worker_threads';
import { type SessionCause, errorMessage } from '../../errors.js';
import { type LogLevel, getLogLevel, type Logger } from '../../util/Logger.js';
import type { DataPlaneOptions } from '../rtmfp/RtmfpDataPlane.js';
import type { SessionCommands } from '../rtmfp/SessionLink.js';
import type { FeedOptions } from '../../media/MediaFeed.js';
import type { RtmpDataOptions } from '../rtmp/RtmpLink.js';
import type { SubscriberLimits } from '../../media/Subscriber.js';
import { type FromWorker, MediaChannel, type MainRequests, type RequestHandlers, type ToWorker, type WorkerRequests, wireBytes } from './MediaChannel.js';
import { RemoteMedia, WorkerFeeds, type WorkerLink } from './RemoteMedia.js';

/** The worker entry, as .ts under tsx (tests, which also need tsx in the worker) and .js once built. */
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './mediaWorker.ts' : './mediaWorker.js', import.meta.url);

/**
 * V8's young generation of a media worker. Left alone it grows to 32 MiB per isolate under a
 * fan-out's allocation rate, whatever the number of sessions: at 300 subscribers on 2 workers,
 * 296 KiB of RSS per session with it, 223 KiB with 12 MiB, for the same CPU per subscriber
 * (bench/macro/rtmfpFanout.ts, native w2). The main thread keeps Node's default (a node option:
 * `--max-semi-space-size`).
 */
const MEDIA_WORKER_YOUNG_GENERATION_MB = 12;

/** The main thread's end of a worker's channel. */
export type WorkerChannel = MediaChannel<ToWorker, FromWorker, WorkerRequests, MainRequests>;

/**
 * One media worker seen from the main thread: its port, its channel, the publications it mirrors
 * and the sessions it serves.
 */
export class WorkerHandle implements WorkerLink {
  /** Its RTMFP port (0: the worker has no RTMFP socket). */
  port = 0;
  /** Sessions it serves, RTMFP and RTMP (the least loaded worker gets the next one). */
  sessions = 0;
  /** Its RTMP sessions (closed on the main side if the worker dies). */
  readonly rtmpSids = new Set<number>();
  readonly feeds: WorkerFeeds;
  /** The media side of each of its sessions (drop reports, cleanup). */
  readonly remotes = new Map<number, RemoteMedia>();

  constructor(
    readonly index: number,
    readonly worker: Worker,
    readonly channel: WorkerChannel,
  ) {
    this.feeds = new WorkerFeeds(this);
  }

  post(message: ToWorker, moved?: readonly ArrayBuffer[]): void {
    this.channel.send(message, moved);
  }

  /** Messages about media the handle deals with itself; false for the others. */
  handleMedia(message: FromWorker): boolean {
    if (message.op === 'frame') {
      this.feeds.onFrame(message);
      return true;
    }
    if (message.op === 'dropped') {
      message.sids.forEach((sid, i) => this.remotes.get(sid)?.onDropped(message.streams[i], message.counts[i]));
      return true;
    }
    if (message.op === 'traffic') {
      const { sids, received, sent, lostRates } = message;
      for (let i = 0; i < sids.length; i++) {
        this.remotes.get(sids[i])?.onTraffic(received[i], sent[i], lostRates[i]);
      }
      return true;
    }
    return false;
  }

  /** The worker is gone: its mirrors' outputs leave their publications. */
  closed(): void {
    this.feeds.closeAll();
    this.remotes.clear();
  }
}

/** The control half's view of an RTMFP data half that lives in a worker. */
export class RemoteCommands extends RemoteMedia implements SessionCommands {
  constructor(private readonly handle: WorkerHandle, sid: number) {
    super(handle, handle.feeds, sid);
    handle.remotes.set(sid, this);
  }

  writeTc(streamId: number, message: Buffer): void {
    const bytes = wireBytes(message);
    this.handle.post({ op: 'tc', sid: this.sid, streamId, message: bytes }, [bytes.buffer as ArrayBuffer]);
  }

  writeFlow(writerId: number, message: Buffer, reliable: boolean): void {
    const bytes = wireBytes(message);
    this.handle.post({ op: 'writerFlow', sid: this.sid, writerId, message: bytes, reliable }, [bytes.buffer as ArrayBuffer]);
  }

  closeFlow(writerId: number): void {
    this.handle.post({ op: 'writerFlowClose', sid: this.sid, writerId });
  }

  writeGroup(clientFlowId: number, message: Buffer): void {
    const bytes = wireBytes(message);
    this.handle.post({ op: 'group', sid: this.sid, flowId: clientFlowId, message: bytes }, [bytes.buffer as ArrayBuffer]);
  }

  queueChunk(chunk: Buffer): void {
    const bytes = wireBytes(chunk);
    this.handle.post({ op: 'chunk', sid: this.sid, chunk: bytes }, [bytes.buffer as ArrayBuffer]);
  }

  close(cause: SessionCause, graceful: boolean): void {
    this.handle.post({ op: 'close', sid: this.sid, code: cause.code, message: cause.message, graceful });
  }
}

/** What a media worker is started with (its `workerData`). */
export interface WorkerSetup {
  index: number;
  logLevel: number;
  checkPosts: boolean;
  /** Its RTMFP socket and sessions, or null: the worker serves RTMP only. */
  rtmfp: Omit<DataPlaneOptions, 'computeKeys'> | null;
  /** How its RTMP data halves run. */
  rtmp: RtmpDataOptions;
  /** The publications' cache settings and what a subscriber may queue (as on the main thread). */
  feeds: FeedOptions;
  limits: SubscriberLimits;
  /** What this worker's subscribers may hold queued together (0: no budget). */
  queueBudgetBytes: number;
}

/** What the main thread does for a worker: its messages, the requests it makes, its end. */
export interface WorkerHost {
  onMessage(handle: WorkerHandle, message: FromWorker): void;
  readonly requests: RequestHandlers<MainRequests>;
  /** The worker stopped on its own (a crash: its sessions are gone). */
  onExit(handle: WorkerHandle, code: number): void;
}

/**
 * Starts media worker `setup.index`; resolves once it is ready (its RTMFP port bound, if it has
 * one). The host hears of a worker that stops afterwards (a crash: its sessions are gone).
 */
export const startWorker = (setup: Omit<WorkerSetup, 'logLevel' | 'checkPosts'>, log: Logger, host: WorkerHost): Promise<WorkerHandle> => {
  const index = setup.index;
  // From sources (tests under tsx) the worker registers tsx itself before loading the entry.
  const entry = fromSource
    ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); })`
    : workerUrl;
  const workerData: WorkerSetup = { ...setup, logLevel: getLogLevel(), checkPosts: MediaChannel.checkPosts };
  const worker = new Worker(entry, {
    eval: fromSource,
    resourceLimits: { maxYoungGenerationSizeMb: MEDIA_WORKER_YOUNG_GENERATION_MB },
    workerData,
  });
  let handle: WorkerHandle | null = null;
  let ready = false;
  return new Promise<WorkerHandle>((resolve, reject) => {
    const channel: WorkerChannel = new MediaChannel<ToWorker, FromWorker, WorkerRequests, MainRequests>(
      worker,
      (message) => {
        if (message.op === 'log') {
          log.log(message.level as LogLevel, message.message);
          return;
        }
        if (message.op === 'listening') {
          handle!.port = message.port;
          ready = true;
          worker.off('error', reject);
          worker.on('error', (err) => log.error(`media worker ${index}: ${err.message}`));
          resolve(handle!);
          return;
        }
        if (!handle!.handleMedia(message)) {
          host.onMessage(handle!, message);
        }
      },
      host.requests,
      (err) => log.error(`media worker ${index} channel: ${errorMessage(err)}`),
    );
    handle = new WorkerHandle(index, worker, channel);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      channel.close(`media worker ${index} exited with code ${code}`);
      handle!.closed();
      if (!ready) {
        reject(new Error(`media worker ${index} exited with code ${code}`));
      } else {
        host.onExit(handle!, code);
      }
    });
  });
};
