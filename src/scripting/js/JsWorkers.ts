import { basename } from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { DataInput, DataValue } from '../data/DataTree.js';
import { treeAccess } from './JsData.js';
import { Client, type ClientWriter } from '../../core/Client.js';
import { Group } from '../../core/Group.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import { errorMessage } from '../../errors.js';
import { DropPolicy, Verdict } from '../../media/DropPolicy.js';
import type { FrameKind, MediaFrame } from '../../media/MediaFrame.js';
import type { MediaFormat } from '../../media/record/MediaMuxer.js';
import { Recorder } from '../../media/record/Recorder.js';
import { type LogLevel, Logger, getLogLevel } from '../../util/Logger.js';
import type { App } from '../App.js';
import { type AppRuntime, type HookResult, NO_HOOK, type RuntimeContext, ScriptError } from '../AppRuntime.js';
import type { ScriptApi } from '../ScriptApi.js';
import { type ScriptServer, ServerListView, broadcastTo } from '../ServerDirectory.js';
import {
  type DoRequest,
  type FromJsWorker,
  HANDLE,
  type HandleKind,
  type JsWorkerSetup,
  PROGRESS,
  PROGRESS_BYTES,
  type SyncAnswer,
  type SyncRequest,
  type ToJsWorker,
  type WireApp,
  type WireFrame,
  type WireHandle,
  fromWire,
  heartbeatMs,
  progressViews,
  toWire,
} from './JsWire.js';

/** The worker entry, as .ts under tsx (tests, which also need tsx in the worker) and .js once built. */
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './jsWorker.ts' : './jsWorker.js', import.meta.url);

/** The smallest heap a JS apps' worker gets whatever application.memoryMax says (Node and the app modules need some). */
export const MIN_JS_HEAP_MB = 16;
/** Past the budget and this, a worker that has shown no sign of life is taken for stuck outside any hook it marked. */
const stuckSlackMs = (timeoutMs: number): number => Math.max(500, timeoutMs / 4, 2 * heartbeatMs(timeoutMs));
/** Losses of one tree's worker with no hook to blame, within LOSS_WINDOW_MS, after which its apps stay stopped. */
const MAX_UNEXPLAINED_LOSSES = 3;
const LOSS_WINDOW_MS = 60_000;

/** Live fields a worker may read of each kind of object (`client.ping`...). */
const FIELDS: Record<Exclude<HandleKind, 'servers'>, ReadonlySet<string>> = {
  client: new Set(['address', 'ping', 'lastReceptionTime', 'properties', 'parameters', 'state']),
  publication: new Set(['running', 'lastTime', 'droppedFrames', 'properties']),
  listener: new Set(['droppedFrames', 'receiveAudio', 'receiveVideo']),
  group: new Set(['size']),
  server: new Set(),
  recorder: new Set(['running']),
};

/**
 * The server's objects as handles: a number per object for as long as a worker may name it. The
 * handle carries the object's fixed fields each time (the worker makes its stand-in from them).
 */
class Handles {
  private nextId = 1;
  private readonly ids = new WeakMap<object, number>();
  private readonly objects = new Map<number, { object: object; kind: Exclude<HandleKind, 'servers'> }>();
  /** The mesh servers while one value is made wire-ready. */
  private servers: Set<object> | null = null;

  constructor(private readonly api: ScriptApi) {}

  private kindOf(v: object): HandleKind | null {
    if (v instanceof Client) {
      return 'client';
    }
    if (v instanceof Publication) {
      return 'publication';
    }
    if (v instanceof Listener) {
      return 'listener';
    }
    if (v instanceof Group) {
      return 'group';
    }
    if (v instanceof ServerListView) {
      return 'servers';
    }
    if (v instanceof Recorder) {
      return 'recorder';
    }
    if (Array.isArray(v) || v instanceof Uint8Array) {
      return null;
    }
    // A mesh server is whatever the directory lists (the mesh's own class, or any object): looked up once per value sent.
    this.servers ??= new Set(this.api.servers.list());
    return this.servers.has(v) ? 'server' : null;
  }

  handle(v: object): WireHandle | undefined {
    const kind = this.ids.has(v) ? this.objects.get(this.ids.get(v)!)!.kind : this.kindOf(v);
    if (kind === null) {
      return undefined;
    }
    if (kind === 'servers') {
      return { [HANDLE]: 'servers', id: 0, s: { which: (v as ServerListView).which } };
    }
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(v, id);
      this.objects.set(id, { object: v, kind });
    }
    return { [HANDLE]: kind, id, s: this.fixed(kind, v) };
  }

  private fixed(kind: Exclude<HandleKind, 'servers'>, v: object): Record<string, unknown> {
    switch (kind) {
      case 'client': {
        const c = v as Client;
        const writer = { raw: c.writer.writeRaw !== undefined, sub: c.writer.newWriter !== undefined };
        return { id: c.id, rawId: new Uint8Array(c.rawId), path: c.path, query: c.query, protocol: c.protocol, writer };
      }
      case 'publication': {
        const p = v as Publication;
        return { name: p.name, scripted: p.publisher === null };
      }
      case 'listener': {
        const l = v as Listener;
        return { client: l.client === null ? null : this.handle(l.client), publication: this.handle(l.publication), parameters: { ...l.parameters } };
      }
      case 'group': {
        const g = v as Group;
        return { id: g.id, rawId: new Uint8Array(g.rawId) };
      }
      case 'server': {
        const s = v as ScriptServer;
        return { address: s.address, host: s.host, port: s.port, isTarget: s.isTarget, configs: { ...s.configs } };
      }
      case 'recorder': {
        return { file: (v as Recorder).file };
      }
    }
  }

  resolve(h: WireHandle): unknown {
    if (h[HANDLE] === 'servers') {
      const which = (h.s?.which ?? 'all') as ServerListView['which'];
      return new ServerListView(this.api.servers, which);
    }
    return this.objects.get(h.id)?.object ?? null;
  }

  get(id: number): { object: object; kind: Exclude<HandleKind, 'servers'> } | undefined {
    return this.objects.get(id);
  }

  toWire(value: unknown): unknown {
    try {
      return toWire(value, (v) => this.handle(v));
    } finally {
      this.servers = null;
    }
  }

  fromWire(value: unknown): unknown {
    return fromWire(value, (h) => this.resolve(h));
  }

  /** Forgets `object`; its handle, if it had one. */
  release(object: object): number | null {
    const id = this.ids.get(object);
    if (id === undefined) {
      return null;
    }
    this.ids.delete(object);
    this.objects.delete(id);
    return id;
  }

  /** Forgets the objects that are gone from the server (closed clients, stopped publications...); their handles. */
  sweep(): number[] {
    const gone: number[] = [];
    let servers: readonly ScriptServer[] | null = null;
    for (const [id, { object, kind }] of this.objects) {
      let dead: boolean;
      switch (kind) {
        case 'client': {
          dead = (object as Client).state === 'closed';
          break;
        }
        case 'publication': {
          const p = object as Publication;
          dead = !p.running && this.api.core.publication(p.name) !== p;
          break;
        }
        case 'listener': {
          dead = (object as Listener).closed;
          break;
        }
        case 'group': {
          const g = object as Group;
          dead = g.size === 0 && this.api.groups.get(g.id) !== g;
          break;
        }
        case 'server': {
          servers ??= this.api.servers.list();
          dead = !servers.includes(object as ScriptServer);
          break;
        }
        case 'recorder': {
          dead = !(object as Recorder).running;
          break;
        }
      }
      if (dead) {
        this.objects.delete(id);
        this.ids.delete(object);
        gone.push(id);
      }
    }
    return gone;
  }
}

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
class JsWorker {
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

/**
 * JavaScript applications, each tree of them in its own worker thread (jsWorker.ts): a tree is
 * the apps under the topmost JS app of a path, which share one thread because a child's hooks
 * call its parent's (`this.super`). This is the main thread's side: hook calls go to the worker
 * and their answers come back within the time budget, whatever the script does (JsWorker).
 * A worker that had to be stopped loses its apps' state; the AppLoader restarts them (`onLost`).
 */
export class JsWorkers implements AppRuntime {
  readonly kind = 'js';
  readonly handles: Handles;
  /**
   * Set by the AppLoader: `apps` lost their worker (and their state); `failed` holds the ones not
   * to restart (their onStart ran away), with the message connections get rejected with.
   */
  onLost: ((apps: readonly App[], failed: ReadonlyMap<App, string>) => void) | null = null;
  /** By the top JS app of their tree. */
  private readonly trees = new Map<App, JsWorker>();
  private readonly loadedIn = new Map<App, JsWorker>();
  private readonly unexplained = new Map<App, number[]>();

  constructor(readonly ctx: RuntimeContext) {
    this.handles = new Handles(ctx.api);
  }

  private workers(): JsWorker[] {
    return [...this.trees.values()].filter((w) => w.alive);
  }

  /** The topmost JS app above `app` (or `app`): its tree's worker runs `app`. */
  private topOf(app: App): App {
    let top = app;
    for (const a of app.lineage()) {
      if (a.kind === 'js') {
        top = a;
      }
    }
    return top;
  }

  /** The worker whose hooks serve `app`: its own app's, or its nearest loaded JS ancestor's. */
  private workerOf(app: App): JsWorker | null {
    for (const a of app.lineage()) {
      const worker = this.loadedIn.get(a);
      if (worker !== undefined) {
        return worker.alive ? worker : null;
      }
    }
    return null;
  }

  async load(app: App, file: string): Promise<void> {
    const top = this.topOf(app);
    let worker = this.trees.get(top);
    if (worker?.alive !== true) {
      worker = new JsWorker(top, this);
      this.trees.set(top, worker);
    }
    await worker.call({ op: 'load', id: 0, app: wireApp(app), file }, app, 'load', `www${app.path}/${basename(file)}`);
    worker.apps.add(app);
    this.loadedIn.set(app, worker);
  }

  unload(app: App): void {
    const worker = this.loadedIn.get(app);
    this.loadedIn.delete(app);
    if (worker !== undefined) {
      worker.apps.delete(app);
      worker.post({ op: 'unload', app: app.id });
    }
  }

  /** A call of `worker` (none, or a stopped one: no hook); `message` is made only when there is one to post. */
  private async called(worker: JsWorker | null | undefined, message: () => ToJsWorker & { id: number }, app: App | null, hook: string): Promise<HookResult> {
    if (worker == null || !worker.alive) {
      return NO_HOOK;
    }
    const answer = await worker.call(message(), app, hook, `app ${app?.label ?? worker.top.label} ${hook}`);
    return answer.defined ? { defined: true, values: this.handles.fromWire(answer.value) as unknown[] } : NO_HOOK;
  }

  callAppHook(app: App, name: string, own: boolean, args: readonly unknown[]): Promise<HookResult> {
    const worker = own ? this.loadedIn.get(app) : this.workerOf(app);
    return this.called(worker, () => ({ op: 'call', id: 0, target: 'app', app: wireApp(app), name, own, args: this.handles.toWire(args) as unknown[] }), app, name);
  }

  callClientHook(app: App, client: Client, name: string, args: readonly unknown[]): Promise<HookResult> {
    return this.called(
      this.workerOf(app),
      () => ({ op: 'call', id: 0, target: 'client', app: wireApp(app), client: this.handles.handle(client)!, name, args: this.handles.toWire(args) as unknown[] }),
      app,
      name,
    );
  }

  /** A method scripts put on a shared object (a mesh server): every tree's worker is asked; the first that defines it answers. */
  async callObjectHook(app: App | null, object: object, name: string, args: readonly unknown[]): Promise<HookResult> {
    let result = NO_HOOK;
    for (const worker of this.workers()) {
      const message = (): ToJsWorker & { id: number } => ({ op: 'call', id: 0, target: 'object', app: app === null ? null : wireApp(app), object: this.handles.toWire(object), name, args: this.handles.toWire(args) as unknown[] });
      const answer = await this.called(worker, message, app, name);
      if (answer.defined && !result.defined) {
        result = answer;
      }
    }
    return result;
  }

  release(object: object): void {
    const id = this.handles.release(object);
    if (id !== null) {
      for (const worker of this.workers()) {
        worker.post({ op: 'release', ids: [id] });
      }
    }
  }

  manage(): void {
    const gone = this.handles.sweep();
    for (const worker of this.workers()) {
      worker.pruneRecorders();
      if (gone.length > 0) {
        worker.post({ op: 'release', ids: gone });
      }
      worker.post({ op: 'manage' });
    }
  }

  /** `worker` was stopped: its apps are handed to the AppLoader to restart. */
  lost(worker: JsWorker, failed: Map<App, string>, unexplained: boolean): void {
    if (this.trees.get(worker.top) === worker) {
      this.trees.delete(worker.top);
    }
    const apps = [...worker.apps];
    for (const app of apps) {
      this.loadedIn.delete(app);
    }
    if (unexplained) {
      // A worker stuck outside any hook call again and again (an app's timer loops): its apps stop.
      const now = Date.now();
      const losses = (this.unexplained.get(worker.top) ?? []).filter((t) => now - t < LOSS_WINDOW_MS);
      losses.push(now);
      this.unexplained.set(worker.top, losses);
      if (losses.length >= MAX_UNEXPLAINED_LOSSES) {
        this.unexplained.delete(worker.top);
        for (const app of apps) {
          failed.set(app, `app ${app.label}: stopped, its JS worker got stuck ${losses.length} times within ${LOSS_WINDOW_MS / 1000} s`);
        }
      }
    }
    if (apps.length > 0) {
      this.onLost?.(apps, failed);
    }
  }

  close(): void {
    for (const worker of this.trees.values()) {
      worker.close();
    }
    this.trees.clear();
    this.loadedIn.clear();
  }
}
