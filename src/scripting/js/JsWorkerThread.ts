import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { DataInput, DataValue } from '../data/DataTree.js';
import { treeAccess } from './JsData.js';
import { Client, type ClientWriter } from '../../core/Client.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import { errorMessage } from '../../errors.js';
import { DropPolicy, Verdict } from '../../media/DropPolicy.js';
import type { FrameKind, MediaFrame } from '../../media/MediaFrame.js';
import type { MediaFormat } from '../../media/record/MediaMuxer.js';
import { Recorder } from '../../media/record/Recorder.js';
import { type LogLevel, Logger, getLogLevel } from '../../util/Logger.js';
import type { App } from '../App.js';
import { ScriptError } from '../AppRuntime.js';
import { type ScriptServer, broadcastTo } from '../ServerDirectory.js';
import {
  type DoRequest,
  type FromJsWorker,
  type JsWorkerSetup,
  PROGRESS,
  PROGRESS_BYTES,
  type SyncAnswer,
  type SyncRequest,
  type ToJsWorker,
  type WireApp,
  type WireFrame,
  heartbeatMs,
  progressViews,
} from './JsWire.js';
import { FIELDS } from './JsHandles.js';
import type { JsWorkers } from './JsWorkers.js';

/** The worker entry, as .ts under tsx (tests, which also need tsx in the worker) and .js once built. */
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './jsWorker.ts' : './jsWorker.js', import.meta.url);

/** The smallest heap a JS apps' worker gets whatever application.memoryMax says (Node and the app modules need some). */
export const MIN_JS_HEAP_MB = 16;
/** Past the budget and this, a worker that has shown no sign of life is taken for stuck outside any hook it marked. */
const stuckSlackMs = (timeoutMs: number): number => Math.max(500, timeoutMs / 4, 2 * heartbeatMs(timeoutMs));

/** A hook call (or a batch of frames) a worker has not answered yet. */
interface Pending {
  /** "app /a onConnection": how logs and errors name it. */
  where: string;
  app: App | null;
  hook: string;
  /** Frame bytes it carries (0 for a call). */
  bytes: number;
  resolve(answer: { defined: boolean; value: unknown }): void;
  reject(err: unknown): void;
}

export const wireApp = (app: App): WireApp => ({
  id: app.id,
  path: app.path,
  dir: app.dir,
  kind: app.kind,
  loadedMtime: app.loadedMtime,
  parent: app.parent === null ? null : wireApp(app.parent),
});

let nextWorkerSerial = 1;

/**
 * One worker thread and the JS apps of one tree that run in it. Hook calls are posted with their
 * arguments as snapshots; the worker marks in shared memory what it runs since when (and a
 * heartbeat while idle), and a watchdog here stops the thread once a hook has run past
 * `application.timeout`, or the thread showed no sign of life for longer: `terminate` ends even a
 * synchronous endless loop. The heap cap is the
 * thread's resourceLimits; reaching it ends the thread too. Then every unanswered call fails
 * (the one to blame with its limit, as a Lua hook's would), and the runtime restarts the apps.
 */
export class JsWorker {
  readonly apps = new Set<App>();
  readonly serial = nextWorkerSerial++;
  /** The taps' owner name of this worker's media hooks. */
  readonly owner: string;
  alive = true;
  private readonly worker: Worker;
  private ready = false;
  private readonly queue: Array<[ToJsWorker, ArrayBuffer[] | undefined]> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly ids: Int32Array;
  private readonly times: Float64Array;
  private readonly syncFlag: Int32Array;
  private readonly syncPort: MessagePort;
  private closing = false;
  private readonly timeoutMs: number;
  // Media hooks: frames waiting for this turn's post, and what the worker has not processed yet.
  private frames: WireFrame[] = [];
  private framesBytes = 0;
  private inflightBytes = 0;
  private readonly drops = new WeakMap<Publication, DropPolicy>();
  /** Recordings its scripts' media writers started: they end with the worker (their writers are gone). */
  private readonly recorders = new Set<Recorder>();
  /** The sub-writers its scripts made (`client.writer.newWriter()`), by the id the worker gave them. */
  private readonly writers = new Map<number, { client: Client; writer: ClientWriter }>();
  /** The persistent data its apps' `data` reads and writes (opened at the first use). */
  private readonly data = treeAccess(() => this.runtime.ctx.api.data.tree);

  constructor(
    /** The top JS app of the tree. */
    readonly top: App,
    private readonly runtime: JsWorkers,
  ) {
    const ctx = runtime.ctx;
    this.owner = `js:${this.serial}`;
    this.timeoutMs = ctx.limits.timeoutMs;
    const progress = new SharedArrayBuffer(PROGRESS_BYTES);
    ({ ids: this.ids, times: this.times } = progressViews(progress));
    const flag = new SharedArrayBuffer(4);
    this.syncFlag = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.syncPort = port1;
    const setup: JsWorkerSetup = {
      label: top.label,
      logLevel: getLogLevel(),
      config: ctx.api.config,
      timeoutMs: ctx.limits.timeoutMs,
      memoryMax: ctx.limits.memoryMax,
      progress,
      syncFlag: flag,
      syncPort: port2,
    };
    const heapMb = ctx.limits.memoryMax > 0 ? Math.max(MIN_JS_HEAP_MB, Math.ceil(ctx.limits.memoryMax / 2 ** 20)) : 0;
    // From sources (tests under tsx) the worker registers tsx itself before loading the entry.
    const entry = fromSource
      ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); })`
      : workerUrl;
    this.worker = new Worker(entry, {
      eval: fromSource,
      name: `nimbus-js ${top.label}`,
      workerData: setup,
      transferList: [port2],
      resourceLimits: heapMb > 0 ? { maxOldGenerationSizeMb: heapMb } : {},
    });
    this.worker.unref();
    this.worker.on('message', (m: FromJsWorker) => this.onMessage(m));
    this.worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.stop('memory', Atomics.load(this.ids, PROGRESS.RUNNING));
      } else {
        this.stop('crash', 0, err.stack ?? err.message);
      }
    });
    this.worker.on('exit', (code) => {
      if (this.closing) {
        for (const p of this.pending.values()) {
          p.resolve({ defined: false, value: [] });
        }
        this.pending.clear();
        this.stopWatchdog();
      } else {
        this.stop('crash', 0, `exited with code ${code}`);
      }
    });
  }

  private get log(): Logger {
    return this.runtime.ctx.log;
  }

  /** Posts a call; its answer (or its failure, a ScriptError). */
  call(message: ToJsWorker & { id: number }, app: App | null, hook: string, where: string, bytes = 0, transfer?: ArrayBuffer[]): Promise<{ defined: boolean; value: unknown }> {
    if (!this.alive) {
      return Promise.reject(new ScriptError(`${where}: the JS apps' worker of ${this.top.label} is stopped`));
    }
    return new Promise((resolve, reject) => {
      message.id = this.nextId++;
      this.pending.set(message.id, { where, app, hook, bytes, resolve, reject });
      if (this.pending.size === 1) {
        this.worker.ref();
      }
      this.post(message, transfer);
    });
  }

  post(message: ToJsWorker, transfer?: ArrayBuffer[]): void {
    if (!this.alive) {
      return;
    }
    if (!this.ready) {
      this.queue.push([message, transfer]);
      return;
    }
    this.worker.postMessage(message, transfer);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) {
      return undefined;
    }
    this.pending.delete(id);
    this.inflightBytes -= p.bytes;
    if (this.pending.size === 0) {
      this.worker.unref();
    }
    return p;
  }

  private onMessage(m: FromJsWorker): void {
    switch (m.op) {
      case 'ready': {
        this.ready = true;
        this.times[PROGRESS.LAST_ACTIVITY] = Date.now();
        this.startWatchdog();
        for (const [message, transfer] of this.queue.splice(0)) {
          this.post(message, transfer);
        }
        return;
      }
      case 'done': {
        // The hook's writes to apps' `data` are committed before its answer goes out (as Lua's).
        this.runtime.ctx.api.data.commit();
        this.settle(m.id)?.resolve({ defined: m.defined, value: m.value });
        return;
      }
      case 'failed': {
        this.runtime.ctx.api.data.commit();
        this.settle(m.id)?.reject(new ScriptError(m.message, m.limit));
        return;
      }
      case 'log': {
        new Logger(m.scope).log(m.level as LogLevel, m.message);
        return;
      }
      case 'sync': {
        let answer: SyncAnswer;
        try {
          answer = { ok: true, value: this.answer(m) };
        } catch (err) {
          answer = { ok: false, message: errorMessage(err) };
        }
        this.syncPort.postMessage(answer);
        Atomics.store(this.syncFlag, 0, 1);
        Atomics.notify(this.syncFlag, 0);
        return;
      }
      case 'do': {
        try {
          this.perform(m);
        } catch (err) {
          this.log.error(`JS apps of ${this.top.label}: ${errorMessage(err)}`);
        }
        return;
      }
    }
  }

  private object<T>(h: number, type: abstract new (...args: never[]) => T): T {
    const object = this.runtime.handles.get(h)?.object;
    if (!(object instanceof type)) {
      throw new Error('this object is gone from the server');
    }
    return object;
  }

  private server(h: number): ScriptServer {
    const entry = this.runtime.handles.get(h);
    if (entry?.kind !== 'server') {
      throw new Error('this server is gone from the mesh');
    }
    return entry.object as ScriptServer;
  }

  /** A synchronous request of the worker (it waits): the answer as a wire value. */
  private answer(m: SyncRequest): unknown {
    const api = this.runtime.ctx.api;
    const handles = this.runtime.handles;
    switch (m.what) {
      case 'field': {
        const entry = handles.get(m.h);
        if (entry === undefined) {
          // A client or listener that left: what scripts read of a closed object.
          return m.key === 'state' ? 'closed' : null;
        }
        if (!FIELDS[entry.kind].has(m.key)) {
          throw new Error(`no field ${m.key}`);
        }
        return handles.toWire((entry.object as Record<string, unknown>)[m.key]);
      }
      case 'publish': {
        const app = m.app === null ? null : (this.runtime.ctx.appById(m.app) ?? null);
        return handles.toWire(api.publish(m.name, app));
      }
      case 'closePublication': {
        api.closePublication(this.object(m.h, Publication));
        return null;
      }
      case 'qos': {
        const publication = m.publication === null ? null : this.object(m.publication, Publication);
        const client = m.client === null ? null : this.object(m.client, Client);
        return api.qos(publication, m.kind, client);
      }
      case 'collection': {
        return handles.toWire(api.collection(m.source, handles.fromWire(m.owner)));
      }
      case 'collectionGet': {
        return handles.toWire(api.collectionGet(m.source, handles.fromWire(m.owner), handles.fromWire(m.key)));
      }
      case 'servers': {
        return handles.toWire(api.servers.list());
      }
      case 'publicAddress': {
        return this.server(m.h).publicAddress(m.protocol);
      }
      case 'publication': {
        return handles.toWire(api.core.publication(m.name) ?? null);
      }
      case 'record': {
        const publication = this.object(m.h, Publication);
        const recorder = api.core.recordings.record(publication.feed, publication.name, m.name, m.format as MediaFormat);
        this.recorders.add(recorder);
        return handles.toWire(recorder);
      }
      case 'dataGet': {
        return handles.toWire(this.data.get(m.path, m.key));
      }
      case 'dataSet': {
        this.data.set(m.path, m.key, (handles.fromWire(m.value) ?? undefined) as DataValue | DataInput | undefined);
        return null;
      }
      case 'dataKeys': {
        return this.data.keys(m.path);
      }
    }
  }

  /** The writer `w` of the client `h` (0: its own), null once the client is gone. */
  private writerOf(h: number, w = 0): ClientWriter | null {
    const client = this.runtime.handles.get(h)?.object;
    if (!(client instanceof Client) || client.state === 'closed') {
      return null;
    }
    if (w === 0) {
      return client.writer;
    }
    const sub = this.writers.get(w);
    return sub?.client === client ? sub.writer : null;
  }

  /** What the worker asked and does not wait for. */
  private perform(m: DoRequest): void {
    const api = this.runtime.ctx.api;
    const handles = this.runtime.handles;
    switch (m.what) {
      case 'invoke':
      case 'message': {
        const writer = this.writerOf(m.h, m.w);
        if (writer !== null) {
          const args = handles.fromWire(m.args) as unknown[];
          if (m.what === 'invoke') {
            writer.writeInvocation(m.name, ...args);
          } else {
            writer.writeMessage(...args);
          }
        }
        return;
      }
      case 'raw': {
        this.writerOf(m.h, m.w)?.writeRaw?.(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
        return;
      }
      case 'newWriter': {
        const from = this.writerOf(m.h, m.from);
        for (const [id, sub] of this.writers) {
          if (sub.client.state === 'closed') {
            this.writers.delete(id);
          }
        }
        if (from !== null) {
          this.writers.set(m.w, { client: handles.get(m.h)!.object as Client, writer: from.newWriter?.() ?? from });
        }
        return;
      }
      case 'writerReliable': {
        const writer = this.writerOf(m.h, m.w);
        if (writer !== null && 'reliable' in writer) {
          writer.reliable = m.on;
        }
        return;
      }
      case 'closeClient': {
        if (m.w !== undefined && m.w !== 0) {
          this.writerOf(m.h, m.w)?.close();
          return;
        }
        const client = handles.get(m.h)?.object;
        if (client instanceof Client) {
          client.writer.close(m.reason);
        }
        return;
      }
      case 'push': {
        api.push(this.object(m.h, Publication), m.kind as FrameKind, m.time, Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
        return;
      }
      case 'pushData': {
        api.pushData(this.object(m.h, Publication), handles.fromWire(m.values) as unknown[], m.time);
        return;
      }
      case 'listener': {
        this.object(m.h, Listener)[m.key] = m.on;
        return;
      }
      case 'tap': {
        const publication = this.object(m.h, Publication);
        this.runtime.ctx.taps.set(publication, this.owner, m.on ? (p, frame) => this.frame(p, frame) : null);
        return;
      }
      case 'send': {
        this.server(m.h).send(m.handler, ...(handles.fromWire(m.args) as unknown[]));
        return;
      }
      case 'reject': {
        this.server(m.h).reject(m.reason);
        return;
      }
      case 'broadcast': {
        const servers = m.servers.map((h) => handles.get(h)).filter((e) => e?.kind === 'server').map((e) => e!.object as ScriptServer);
        broadcastTo(api.servers, servers, m.handler, handles.fromWire(m.args) as unknown[]);
        return;
      }
      case 'stopRecorder': {
        const recorder = this.object(m.h, Recorder);
        recorder.stop();
        this.recorders.delete(recorder);
        return;
      }
    }
  }

  // --- media hooks ---------------------------------------------------------------------------

  /**
   * A frame of a publication this worker's scripts watch: posted with this turn's others. What the
   * worker has not processed yet is bounded: past servers.queueBytes its hooks skip frames up to
   * the next keyframe, as Lua's do when they are behind (ScriptTaps).
   */
  private frame(publication: Publication, frame: MediaFrame): void {
    if (!this.alive) {
      return;
    }
    const behind = this.inflightBytes + this.framesBytes;
    let drops = this.drops.get(publication);
    if (drops === undefined) {
      drops = new DropPolicy(this.runtime.ctx.api.config.servers.queueBytes, 0);
      this.drops.set(publication, drops);
    }
    if (!drops.sends(behind) && drops.judge(frame, behind, publication.feed.cache.hasVideo, Date.now()) !== Verdict.SEND) {
      return;
    }
    const payload = new Uint8Array(frame.payload);
    this.frames.push({ pub: this.runtime.handles.handle(publication)!, kind: frame.kind, time: frame.timestamp, payload });
    this.framesBytes += payload.byteLength;
    if (this.frames.length === 1) {
      queueMicrotask(() => this.flushFrames());
    }
  }

  private flushFrames(): void {
    const frames = this.frames;
    const bytes = this.framesBytes;
    this.frames = [];
    this.framesBytes = 0;
    if (frames.length === 0 || !this.alive) {
      return;
    }
    this.inflightBytes += bytes;
    const names = [...new Set(frames.map((f) => (f.pub.s?.name as string | undefined) ?? '?'))].join(', ');
    this.call({ op: 'frames', id: 0, frames }, null, 'media hooks', `app ${this.top.label} media hooks (publication ${names})`, bytes, frames.map((f) => f.payload.buffer as ArrayBuffer))
      .catch(() => undefined);
  }

  // --- the watchdog --------------------------------------------------------------------------

  private startWatchdog(): void {
    if (this.timeoutMs <= 0 || this.watchdog !== null) {
      return;
    }
    this.watchdog = setInterval(() => this.check(), Math.max(10, Math.min(100, this.timeoutMs / 10)));
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) {
      clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }

  /**
   * Past the budget: a hook whose synchronous part still runs, or a thread that has shown no sign
   * of life (its heartbeat, the start or end of a piece of work) for the budget and a slack: it is
   * stuck in code it did not mark, an endless loop after an `await` (blamed on the oldest call it
   * started and has not answered), in an app's timer or socket event (blamed on no hook).
   */
  private check(): void {
    if (!this.ready || !this.alive) {
      return;
    }
    const now = Date.now();
    const running = Atomics.load(this.ids, PROGRESS.RUNNING);
    if (running !== 0) {
      if (now - this.times[PROGRESS.RUNNING_SINCE] > this.timeoutMs) {
        this.stop('time', running);
      }
      return;
    }
    const seen = Math.max(this.times[PROGRESS.LAST_ACTIVITY], this.times[PROGRESS.LAST_STARTED_AT]);
    if (now - seen > this.timeoutMs + stuckSlackMs(this.timeoutMs)) {
      const lastStarted = Atomics.load(this.ids, PROGRESS.LAST_STARTED);
      this.stop('time', [...this.pending.keys()].find((id) => id <= lastStarted) ?? 0);
    }
  }

  /**
   * The thread is ended (a limit, or it crashed): every call it had fails, the one to blame with
   * the limit; the runtime restarts the tree's apps in a new one.
   */
  private stop(kind: 'time' | 'memory' | 'crash', culpritId: number, detail = ''): void {
    if (!this.alive) {
      return;
    }
    this.alive = false;
    this.stopWatchdog();
    void this.worker.terminate();
    this.worker.unref();
    this.runtime.ctx.taps.clear(this.owner);
    this.stopRecorders();
    let culprit = culpritId !== 0 ? this.pending.get(culpritId) : undefined;
    if (culprit === undefined && kind === 'memory') {
      const lastStarted = Atomics.load(this.ids, PROGRESS.LAST_STARTED);
      culprit = [...this.pending].find(([id]) => id <= lastStarted)?.[1];
    }
    const reason =
      kind === 'time'
        ? `time budget of ${this.timeoutMs} ms exceeded (application.timeout)`
        : kind === 'memory'
          ? `memory cap of ${this.runtime.ctx.limits.memoryMax} bytes exceeded (application.memoryMax)`
          : `the JS apps' worker stopped: ${detail}`;
    const limit = kind === 'crash' ? null : kind;
    const message = `${culprit?.where ?? `JS apps of ${this.top.label}, outside any hook (a timer, a socket event)`}: ${reason}`;
    if (culprit === undefined || culprit.hook === 'media hooks') {
      // No caller logs it: a hook's caller logs the limit it failed on.
      this.log.error(message);
    }
    const failed = new Map<App, string>();
    if (culprit?.app != null && culprit.hook === 'onStart') {
      // Restarting an app whose onStart runs away would run away again: it stays stopped until its file changes.
      failed.set(culprit.app, message);
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.inflightBytes = 0;
    for (const p of pending) {
      p.reject(p === culprit ? new ScriptError(message, limit) : new ScriptError(`${p.where}: not run, ${message}`));
    }
    const apps = [...this.apps];
    if (apps.length > 0) {
      this.log.warn(`JS apps ${apps.map((a) => a.label).join(', ')}: their worker was stopped (${message}); they restart, without what they kept in memory`);
    }
    this.runtime.lost(this, failed, culprit === undefined);
  }

  /** Forgets the recordings that ended by themselves (their publisher left). */
  pruneRecorders(): void {
    for (const recorder of this.recorders) {
      if (!recorder.running) {
        this.recorders.delete(recorder);
      }
    }
  }

  private stopRecorders(): void {
    for (const recorder of this.recorders) {
      recorder.stop();
    }
    this.recorders.clear();
  }

  /** Server stop: the worker ends once it has run what was posted (onStop), or is ended after 2 s. */
  close(): void {
    if (!this.alive) {
      return;
    }
    this.post({ op: 'close' });
    this.alive = false;
    this.closing = true;
    this.stopWatchdog();
    this.runtime.ctx.taps.clear(this.owner);
    setTimeout(() => void this.worker.terminate(), 2000).unref();
  }
}
