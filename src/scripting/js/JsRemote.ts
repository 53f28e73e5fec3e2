/**
 * The worker side of JS apps (jsWorker.ts runs it): stand-ins for the server's objects, so that
 * JsRuntime, JsObjects and JsMona run there unchanged. A stand-in keeps what never changes (a
 * client's id, path, protocol; a publication's name); a live field (`client.ping`,
 * `publication.lastTime`, a collection) is a synchronous request the main thread answers while the
 * worker waits (Atomics.wait: the main thread never waits for the worker); what has no answer
 * (`writeInvocation`, `pushVideo`, `server.send`) is a message, in order with everything else.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Config } from '../../config/Config.js';
import type { Client, ClientWriter } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import type { Group } from '../../core/Group.js';
import type { Listener } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import type { FrameKind } from '../../media/MediaFrame.js';
import { App } from '../App.js';
import type { RuntimeContext } from '../AppRuntime.js';
import { type CollectionSource, type Qos, ScriptApi } from '../ScriptApi.js';
import type { FrameObserver, ScriptTaps } from '../ScriptTaps.js';
import type { ScriptServer, ServerDirectory } from '../ServerDirectory.js';
import type { DataEntry } from './JsData.js';
import { JsRuntime } from './JsRuntime.js';
import { JsClient, JsGroup, JsListener, JsPublication, ServerCollection } from './JsObjects.js';
import { typedValues } from '../typedObjects.js';
import { type DoRequest, type FromJsWorker, HANDLE, type SyncAnswer, type SyncRequest, type WireApp, type WireHandle, fromWire, toWire } from './JsWire.js';

/** A server object the worker stands in for: `h` is its handle. */
abstract class Remote {
  abstract readonly kind: 'client' | 'publication' | 'listener' | 'group' | 'server' | 'recorder';

  constructor(
    protected readonly bridge: WorkerBridge,
    readonly h: number,
  ) {}

  protected live(key: string): unknown {
    return this.bridge.sync({ what: 'field', h: this.h, key });
  }
}

export class RemoteClient extends Remote {
  readonly kind = 'client';
  readonly id: string;
  readonly rawId: Buffer;
  readonly path: string;
  readonly query: string;
  readonly protocol: string;
  /** 'closed' once the main thread released it (writes are checked there too). */
  state: 'connected' | 'closed' = 'connected';
  readonly writer: RemoteWriter;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    this.id = s.id as string;
    this.rawId = s.rawId as Buffer;
    this.path = s.path as string;
    this.query = s.query as string;
    this.protocol = s.protocol as string;
    const writer = (s.writer ?? {}) as { raw?: boolean; sub?: boolean };
    this.writer = new RemoteWriter(bridge, h, 0, writer.raw === true, writer.sub === true);
  }

  get address(): string { return this.live('address') as string; }
  get ping(): number { return this.live('ping') as number; }
  get lastReceptionTime(): number { return this.live('lastReceptionTime') as number; }
  get properties(): Record<string, unknown> { return this.live('properties') as Record<string, unknown>; }
  get parameters(): Record<string, unknown> { return this.live('parameters') as Record<string, unknown>; }
}

/**
 * A client's writer in the worker (ClientWriter's shape, so JsWriter runs on it): `w` 0 is the
 * session's own, others are the sub-writers `newWriter()` made (ids the worker picks, the main
 * thread maps them to the protocol's sub-writers). Writes are messages; `writeRaw` and `newWriter`
 * are there only when the protocol has them (the client's snapshot says).
 */
export class RemoteWriter implements ClientWriter {
  private static nextSub = 1;
  private reliableHere = true;
  private closedHere = false;
  writeRaw?: (data: Buffer) => void;
  newWriter?: () => ClientWriter;

  constructor(
    private readonly bridge: WorkerBridge,
    private readonly h: number,
    private readonly w: number,
    raw: boolean,
    sub: boolean,
  ) {
    if (raw) {
      this.writeRaw = (data) => {
        const bytes = new Uint8Array(data);
        bridge.do({ what: 'raw', h, w, bytes }, [bytes.buffer]);
      };
    }
    if (sub) {
      this.newWriter = () => {
        const id = RemoteWriter.nextSub++;
        bridge.do({ what: 'newWriter', h, from: w, w: id });
        return new RemoteWriter(bridge, h, id, raw, sub);
      };
    }
  }

  get reliable(): boolean {
    return this.reliableHere;
  }

  set reliable(on: boolean) {
    if (this.w !== 0) {
      this.reliableHere = on;
      this.bridge.do({ what: 'writerReliable', h: this.h, w: this.w, on });
    }
  }

  /** A sub-writer the script closed (the session's own: its client's state says). */
  get isClosed(): boolean {
    return this.closedHere;
  }

  writeInvocation(name: string, ...args: unknown[]): void {
    this.bridge.do({ what: 'invoke', h: this.h, w: this.w, name, args: this.bridge.toWire(args) as unknown[] });
  }

  writeMessage(...args: unknown[]): void {
    this.bridge.do({ what: 'message', h: this.h, w: this.w, args: this.bridge.toWire(args) as unknown[] });
  }

  close(reason?: string): void {
    if (this.w !== 0) {
      this.closedHere = true;
    }
    this.bridge.do({ what: 'closeClient', h: this.h, w: this.w, reason });
  }
}

export class RemotePublication extends Remote {
  readonly kind = 'publication';
  readonly name: string;
  /** Made by `mona.publish` (no publisher client) when last heard of: pushes are allowed. */
  scripted: boolean;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    this.name = s.name as string;
    this.scripted = s.scripted === true;
  }

  get running(): boolean { return this.live('running') as boolean; }
  get lastTime(): number { return this.live('lastTime') as number; }
  get droppedFrames(): number { return this.live('droppedFrames') as number; }
  get properties(): Record<string, unknown> | null { return this.live('properties') as Record<string, unknown> | null; }
  /** What a media writer records (`writer.record(publication, name)` hands it to the core's recordings). */
  get feed(): { publication: RemotePublication } { return { publication: this }; }
}

/** A recording a JS media writer started (`createMediaWriter().record(publication, name)`): it runs on the main thread. */
export class RemoteRecorder extends Remote {
  readonly kind = 'recorder';
  readonly file: string;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    this.file = s.file as string;
  }

  get running(): boolean { return this.live('running') === true; }

  stop(): void {
    this.bridge.do({ what: 'stopRecorder', h: this.h });
  }
}

export class RemoteListener extends Remote {
  readonly kind = 'listener';
  readonly client: RemoteClient | null;
  readonly publication: RemotePublication;
  readonly parameters: Record<string, string>;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    // Already stand-ins (standIn brings `s` from the wire first): walking them again would walk live objects.
    this.client = (s.client ?? null) as RemoteClient | null;
    this.publication = s.publication as RemotePublication;
    this.parameters = (s.parameters ?? {}) as Record<string, string>;
  }

  get droppedFrames(): number { return this.live('droppedFrames') as number; }
  get receiveAudio(): boolean { return this.live('receiveAudio') as boolean; }
  set receiveAudio(on: boolean) { this.bridge.do({ what: 'listener', h: this.h, key: 'receiveAudio', on }); }
  get receiveVideo(): boolean { return this.live('receiveVideo') as boolean; }
  set receiveVideo(on: boolean) { this.bridge.do({ what: 'listener', h: this.h, key: 'receiveVideo', on }); }
}

export class RemoteGroup extends Remote {
  readonly kind = 'group';
  readonly id: string;
  readonly rawId: Buffer;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    this.id = s.id as string;
    this.rawId = s.rawId as Buffer;
  }

  get size(): number { return this.live('size') as number; }
}

/** A mesh server: scripts put their fields and handlers (`server.onHello = ...`) on it. */
export class RemoteServer extends Remote implements ScriptServer {
  readonly kind = 'server';
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly isTarget: boolean;
  readonly configs: Readonly<Record<string, string>>;
  [field: string]: unknown;

  constructor(bridge: WorkerBridge, h: number, s: Record<string, unknown>) {
    super(bridge, h);
    this.address = s.address as string;
    this.host = s.host as string;
    this.port = s.port as number;
    this.isTarget = s.isTarget === true;
    this.configs = (s.configs ?? {}) as Record<string, string>;
  }

  publicAddress(protocol: string): string | null {
    return this.bridge.sync({ what: 'publicAddress', h: this.h, protocol }) as string | null;
  }

  send(handler: string, ...args: unknown[]): void {
    this.bridge.do({ what: 'send', h: this.h, handler, args: this.bridge.toWire(typedValues(args)) as unknown[] });
  }

  reject(reason?: string): void {
    this.bridge.do({ what: 'reject', h: this.h, reason });
  }
}

const STAND_INS = { client: RemoteClient, publication: RemotePublication, listener: RemoteListener, group: RemoteGroup, server: RemoteServer, recorder: RemoteRecorder } as const;

/**
 * The worker's end of the channel: stand-ins by handle, app mirrors by the main thread's app id,
 * synchronous requests, posts.
 */
export class WorkerBridge {
  private readonly remotes = new Map<number, Remote>();
  private readonly mirrors = new Map<number, App>();
  private readonly mainIds = new WeakMap<App, number>();
  private readonly flag: Int32Array;

  constructor(
    private readonly post: (message: FromJsWorker, transfer?: ArrayBuffer[]) => void,
    private readonly syncPort: MessagePort,
    syncFlag: SharedArrayBuffer,
  ) {
    this.flag = new Int32Array(syncFlag);
  }

  /** Asks the main thread and waits for its answer (a failure there is thrown here). */
  sync(request: SyncRequest): unknown {
    Atomics.store(this.flag, 0, 0);
    this.post({ op: 'sync', ...request });
    for (;;) {
      Atomics.wait(this.flag, 0, 0, 1000);
      const received = receiveMessageOnPort(this.syncPort);
      if (received !== undefined) {
        const answer = received.message as SyncAnswer;
        if (!answer.ok) {
          throw new Error(answer.message);
        }
        return this.fromWire(answer.value);
      }
    }
  }

  do(request: DoRequest, transfer?: ArrayBuffer[]): void {
    this.post({ op: 'do', ...request }, transfer);
  }

  /** Worker values as they are posted: stand-ins (and the script objects around them) as their handles. */
  toWire(value: unknown): unknown {
    return toWire(value, (v) => {
      const remote = v instanceof Remote ? v : v instanceof JsClient || v instanceof JsPublication || v instanceof JsListener || v instanceof JsGroup ? (v.core as unknown) : null;
      if (remote instanceof Remote) {
        return { [HANDLE]: remote.kind, id: remote.h };
      }
      if (v instanceof ServerCollection) {
        return { [HANDLE]: 'servers', id: 0, s: { which: v.view.which } };
      }
      return undefined;
    });
  }

  fromWire(value: unknown): unknown {
    return fromWire(value, (h) => this.standIn(h));
  }

  private standIn(h: WireHandle): unknown {
    const kind = h[HANDLE];
    if (kind === 'servers') {
      return null;
    }
    const known = this.remotes.get(h.id);
    if (known !== undefined) {
      if (known instanceof RemotePublication && h.s !== undefined) {
        known.scripted = h.s.scripted === true;
      }
      return known;
    }
    if (h.s === undefined) {
      return null;
    }
    const s = this.fromWire(h.s) as Record<string, unknown>;
    const remote = new STAND_INS[kind](this, h.id, s);
    this.remotes.set(h.id, remote);
    return remote;
  }

  /** The main thread is done with these objects (client gone, listener closed...). */
  release(ids: readonly number[]): void {
    for (const id of ids) {
      const remote = this.remotes.get(id);
      if (remote instanceof RemoteClient) {
        remote.state = 'closed';
      }
      this.remotes.delete(id);
    }
  }

  /** The worker's copy of an app node (and its parents), made or brought up to date. */
  mirror(wire: WireApp): App {
    const parent = wire.parent === null ? null : this.mirror(wire.parent);
    let app = this.mirrors.get(wire.id);
    if (app === undefined || app.parent !== parent || app.path !== wire.path) {
      app = new App(wire.path, wire.dir, parent);
      this.mirrors.set(wire.id, app);
      this.mainIds.set(app, wire.id);
    }
    app.kind = wire.kind;
    app.loadedMtime = wire.loadedMtime;
    return app;
  }

  mirrorOf(id: number): App | undefined {
    return this.mirrors.get(id);
  }

  mainIdOf(app: App | null): number | null {
    return app === null ? null : (this.mainIds.get(app) ?? null);
  }
}

const handleOf = (object: unknown): number | null => (object instanceof Remote ? object.h : null);

/** ScriptApi in the worker: the pure parts run here (AMF, JSON, digests...), the rest asks the main thread. */
class RemoteScriptApi extends ScriptApi {
  constructor(
    private readonly bridge: WorkerBridge,
    config: Config,
  ) {
    const core = {
      publication: (name: string) => bridge.sync({ what: 'publication', name }) ?? undefined,
      // JsMediaWriter's recordings: ScriptMediaWriter.record(publication, name) gives them the publication's feed.
      recordings: {
        record: (feed: { publication: RemotePublication }, _label: string, name: string, format: string) =>
          bridge.sync({ what: 'record', h: feed.publication.h, name, format }),
      },
    };
    const servers: ServerDirectory = {
      list: () => bridge.sync({ what: 'servers' }) as ScriptServer[],
      broadcast: (list, handler, args) =>
        bridge.do({ what: 'broadcast', servers: list.map(handleOf).filter((h): h is number => h !== null), handler, args: bridge.toWire(args) as unknown[] }),
    };
    super(core as unknown as Core, config, servers);
  }

  override publish(name: string, app: App | null): Publication | null {
    return this.bridge.sync({ what: 'publish', name, app: this.bridge.mainIdOf(app) }) as Publication | null;
  }

  override closePublication(publication: Publication): void {
    this.bridge.sync({ what: 'closePublication', h: handleOf(publication) ?? 0 });
  }

  override push(publication: Publication, kind: FrameKind, time: number, bytes: Buffer): void {
    const remote = publication as unknown as RemotePublication;
    if (!remote.scripted) {
      throw new Error(`publication ${remote.name} belongs to a client: push into mona:publish publications only`);
    }
    const copy = new Uint8Array(bytes);
    this.bridge.do({ what: 'push', h: remote.h, kind, time, bytes: copy }, [copy.buffer]);
  }

  override pushData(publication: Publication, values: readonly unknown[], time: number): void {
    const remote = publication as unknown as RemotePublication;
    if (!remote.scripted) {
      throw new Error(`publication ${remote.name} belongs to a client: push into mona:publish publications only`);
    }
    this.bridge.do({ what: 'pushData', h: remote.h, values: this.bridge.toWire(values) as unknown[], time });
  }

  override qos(publication: Publication | null, kind: 'audio' | 'video' | 'data' | null = null, client: Client | null = null): Qos {
    return this.bridge.sync({ what: 'qos', publication: handleOf(publication), kind, client: handleOf(client) }) as Qos;
  }

  override collection(source: CollectionSource, owner: unknown): Array<[unknown, unknown]> {
    return this.bridge.sync({ what: 'collection', source, owner: this.bridge.toWire(owner) }) as Array<[unknown, unknown]>;
  }

  override collectionGet(source: CollectionSource, owner: unknown, key: unknown): unknown {
    return this.bridge.sync({ what: 'collectionGet', source, owner: this.bridge.toWire(owner), key: this.bridge.toWire(key) });
  }
}

/** Which publications the worker's scripts watch: the main thread taps them and posts their frames. */
class RemoteTaps {
  private readonly observers = new Map<number, FrameObserver>();

  constructor(private readonly bridge: WorkerBridge) {}

  set(publication: Publication, _owner: string, observer: FrameObserver | null): void {
    const h = handleOf(publication);
    if (h === null) {
      return;
    }
    if (observer === null) {
      if (this.observers.delete(h)) {
        this.bridge.do({ what: 'tap', h, on: false });
      }
    } else {
      if (!this.observers.has(h)) {
        this.bridge.do({ what: 'tap', h, on: true });
      }
      this.observers.set(h, observer);
    }
  }

  clear(_owner: string): void {
    for (const h of this.observers.keys()) {
      this.bridge.do({ what: 'tap', h, on: false });
    }
    this.observers.clear();
  }

  observerOf(h: number): FrameObserver | undefined {
    return this.observers.get(h);
  }
}

/** JsRuntime on stand-ins: the script objects wrap them as they wrap the core objects on the main thread. */
export class WorkerJsRuntime extends JsRuntime {
  private readonly wrapped = new WeakMap<object, object>();

  constructor(context: RuntimeContext, bridge: WorkerBridge) {
    super(context);
    // Synchronous requests: a read sees the last write at once, in order with the writes.
    this.dataAccess = {
      get: (path, key) => bridge.sync({ what: 'dataGet', path, key }) as DataEntry,
      set: (path, key, value) => {
        bridge.sync({ what: 'dataSet', path, key, value: bridge.toWire(value) });
      },
      keys: (path) => bridge.sync({ what: 'dataKeys', path }) as string[],
    };
  }

  override wrap(value: unknown): unknown {
    if (!(value instanceof Remote) || value instanceof RemoteServer) {
      return value;
    }
    let wrapper = this.wrapped.get(value);
    if (wrapper === undefined) {
      wrapper =
        value instanceof RemoteClient
          ? new JsClient(value as unknown as Client)
          : value instanceof RemotePublication
            ? new JsPublication(value as unknown as Publication, this)
            : value instanceof RemoteListener
              ? new JsListener(value as unknown as Listener, this)
              : new JsGroup(value as unknown as Group, this);
      this.wrapped.set(value, wrapper);
    }
    return wrapper;
  }
}

/** The runtime and the taps of a worker, on `bridge`. */
export const workerRuntime = (bridge: WorkerBridge, config: Config, limits: RuntimeContext['limits'], log: RuntimeContext['log']): { runtime: WorkerJsRuntime; taps: RemoteTaps } => {
  const taps = new RemoteTaps(bridge);
  const context: RuntimeContext = {
    api: new RemoteScriptApi(bridge, config),
    taps: taps as unknown as ScriptTaps,
    limits,
    log,
    appById: () => undefined,
    childApp: () => null,
  };
  return { runtime: new WorkerJsRuntime(context, bridge), taps };
};
