import { readFileSync } from 'node:fs';
import { compatChunk } from './luaCompat.js';
import { relative } from 'node:path';
import { decodeAmf0 } from '../../amf/index.js';
import { Client } from '../../core/Client.js';
import { Group, type GroupMember } from '../../core/Group.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import { FrameKind, type MediaFrame } from '../../media/MediaFrame.js';
import { getLogLevel } from '../../util/Logger.js';
import type { App } from '../App.js';
import { type AppRuntime, type HookResult, NO_HOOK, type RuntimeContext, ScriptError } from '../AppRuntime.js';
import { type ScriptServer, ServerListView } from '../ServerDirectory.js';
import { ScriptSocket, ScriptSockets } from '../sockets/ScriptSockets.js';
import { installHost } from './hostFunctions.js';
import { LuaCallError, LuaVm, LuaType } from './LuaVm.js';
import { type LuaObjectMap, LuaRef, LuaValues } from './LuaValues.js';

export type ObjectKind = 'client' | 'publication' | 'listener' | 'group' | 'member' | 'server' | ScriptSocket['kind'];

/** Functions of the prelude the runtime calls, kept as registry references. */
interface Prelude {
  newObject: number;
  collection: number;
  merge: number;
  newApp: number;
  runMain: number;
  defines: number;
  clearApp: number;
  appHook: number;
  objectHook: number;
  typedHook: number;
  gc: number;
  setLogLevel: number;
  H: number;
  COLL: number;
}

const MEDIA_HOOKS = ['onVideo', 'onAudio', 'onData', 'onFlush', 'onProperties'] as const;
type MediaHook = (typeof MEDIA_HOOKS)[number];

/**
 * Lua applications: one Lua state for the whole tree (so a child app falls back to its parent's
 * globals and can call its functions), one environment table per app, one Lua table per core
 * object (created when a script first sees it, released when the object is gone).
 */
export class LuaRuntime implements AppRuntime, LuaObjectMap {
  readonly kind = 'lua';
  readonly values: LuaValues;
  private prelude!: Prelude;
  private readonly tables = new Map<object, { id: number; ref: number }>();
  private readonly byId = new Map<number, object>();
  private nextId = 1;
  /** The app whose code runs now (for `mona:publish` bookkeeping and error messages). */
  currentApp: App | null = null;
  /** How deep `run` calls are nested (hooks that call hooks). */
  private depth = 0;
  /** Which app set a publication's media hooks (to name it in errors). */
  private readonly hookOwners = new Map<Publication, string>();
  /** The app that set a publication's media hooks (its onTypedObject gets onData's typed objects). */
  private readonly hookApps = new Map<Publication, App>();
  /** The media hooks each observed publication defines: only those are called. */
  private readonly mediaHooks = new Map<Publication, Set<MediaHook>>();
  private readonly flushPending = new Set<Publication>();
  /** The TCP/UDP sockets scripts opened (closed with their app). */
  readonly sockets: ScriptSockets;

  private constructor(
    readonly vm: LuaVm,
    readonly ctx: RuntimeContext,
  ) {
    this.values = new LuaValues(vm, this);
    this.sockets = new ScriptSockets(ctx.api.config.application.socketBuffer);
  }

  static async create(ctx: RuntimeContext): Promise<LuaRuntime> {
    const vm = await LuaVm.create({ memoryMax: ctx.limits.memoryMax });
    const runtime = new LuaRuntime(vm, ctx);
    runtime.prelude = installHost(runtime) as unknown as Prelude;
    runtime.invoke(runtime.prelude.setLogLevel, [getLogLevel()]);
    return runtime;
  }

  // --- objects -----------------------------------------------------------------------------

  kindOf(value: object): ObjectKind | null {
    if (value instanceof Client) {
      return 'client';
    }
    if (value instanceof Publication) {
      return 'publication';
    }
    if (value instanceof Listener) {
      return 'listener';
    }
    if (value instanceof Group) {
      return 'group';
    }
    if (value instanceof ScriptSocket) {
      return value.kind;
    }
    if (this.ctx.api.servers.list().includes(value as ScriptServer)) {
      return 'server';
    }
    if ('rawId' in value && 'client' in value && 'id' in value) {
      return 'member';
    }
    return null;
  }

  pushObject(value: object): boolean {
    const entry = this.tables.get(value);
    if (entry !== undefined) {
      this.vm.pushRef(entry.ref);
      return true;
    }
    const kind = this.kindOf(value);
    if (kind === null) {
      return false;
    }
    const id = this.nextId++;
    this.tables.set(value, { id, ref: -1 });
    this.byId.set(id, value);
    this.createTable(kind, value, id);
    this.vm.pushValueAt(-1);
    this.tables.set(value, { id, ref: this.vm.ref() });
    return true;
  }

  objectAt(index: number): object | undefined {
    const vm = this.vm;
    vm.pushRef(this.prelude.H);
    vm.pushValueAt(index);
    const type = vm.rawGet(-2);
    const id = type === LuaType.NUMBER ? vm.toNumber(-1) : 0;
    vm.top = -3;
    if (id !== 0) {
      return this.byId.get(id);
    }
    return this.serverListAt(index);
  }

  /** `mona.servers` (or `.initiators`/`.targets`) at `index` as a live view, else undefined. */
  private serverListAt(index: number): object | undefined {
    const vm = this.vm;
    vm.pushRef(this.prelude.COLL);
    vm.pushValueAt(index);
    let view: object | undefined;
    if (vm.rawGet(-2) === LuaType.TABLE) {
      vm.rawGetI(-1, 1);
      const source = vm.type(-1) === LuaType.STRING ? vm.toBytes(-1).toString() : '';
      vm.top = -2;
      if (source.startsWith('servers')) {
        view = new ServerListView(this.ctx.api.servers, source === 'servers' ? 'all' : source === 'servers.targets' ? 'targets' : 'initiators');
      }
    }
    vm.top = -3;
    return view;
  }

  objectById(id: number): object | undefined {
    return this.byId.get(id);
  }

  /**
   * Calls a prelude function; results stay on the stack and their count is returned. With
   * `typedApp`, the typed objects among the arguments go to that app's onTypedObject first.
   */
  private invoke(fn: number, args: readonly unknown[], budgetMs = 0, typedApp?: App | null): number {
    const base = this.vm.top;
    const outer = this.values.typedTables;
    const typed: Array<[string, number]> | null = typedApp === undefined ? null : [];
    this.values.typedTables = typed;
    try {
      this.vm.ensure(args.length + 8);
      this.vm.pushRef(fn);
      for (const arg of args) {
        this.values.push(arg);
      }
    } catch (err) {
      this.vm.top = base;
      for (const [, ref] of typed ?? []) {
        this.vm.unref(ref);
      }
      throw err;
    } finally {
      this.values.typedTables = outer;
    }
    if (typed !== null && typed.length > 0) {
      try {
        this.typedObjects(typedApp ?? null, typed, budgetMs);
      } catch (err) {
        this.vm.top = base;
        throw err;
      }
    }
    return this.vm.call(args.length, budgetMs);
  }

  /**
   * MonaServer's onTypedObject (ScriptWriter::endComplex): for each typed object a read made (class
   * name, registry reference to its table; inner ones first), `app`'s onTypedObject(type, object),
   * its own or inherited, is called. What it returns is ignored (MonaServer warns); an error in it
   * is logged with the script's file:line and the read goes on; a limit (time, memory) fails the
   * call it is part of. The references are released.
   */
  typedObjects(app: App | null, tables: ReadonlyArray<[string, number]>, budgetMs = this.ctx.limits.timeoutMs): void {
    const vm = this.vm;
    const base = vm.top;
    try {
      if (app === null || !app.loaded || app.effectiveKind !== 'lua') {
        return;
      }
      if (this.invoke(this.prelude.typedHook, [this.envOf(app)]) === 0 || vm.type(-1) !== LuaType.FUNCTION) {
        return;
      }
      const hook = vm.ref();
      try {
        for (const [type, ref] of tables) {
          vm.top = base;
          vm.ensure(4);
          vm.pushRef(hook);
          vm.pushString(type);
          vm.pushRef(ref);
          try {
            if (vm.call(2, budgetMs) > 0) {
              this.ctx.log.warn(`app ${app.label} onTypedObject: its results are ignored`);
            }
          } catch (err) {
            if (!(err instanceof LuaCallError) || err.kind !== 'error') {
              throw err;
            }
            this.ctx.log.error(`app ${app.label} onTypedObject: ${err.message}`);
          }
        }
      } finally {
        vm.unref(hook);
      }
    } finally {
      vm.top = base;
      for (const [, ref] of tables) {
        vm.unref(ref);
      }
    }
  }

  private keep(fn: number, args: readonly unknown[]): LuaRef {
    this.invoke(fn, args);
    return new LuaRef(this.vm.ref());
  }

  private createTable(kind: ObjectKind, value: object, id: number): void {
    const temps: LuaRef[] = [];
    const temp = (ref: LuaRef): LuaRef => {
      temps.push(ref);
      return ref;
    };
    let fields: Record<string, unknown> | null = null;
    if (value instanceof Client) {
      fields = {
        id: value.id, rawId: value.rawId, protocol: value.protocol, path: value.path, query: value.query,
        properties: value.properties, parameters: value.parameters, writer: temp(this.keep(this.prelude.newObject, ['writer', id])),
      };
    } else if (value instanceof Publication) {
      fields = { name: value.name, listeners: temp(this.keep(this.prelude.collection, ['listeners', id])) };
    } else if (value instanceof Listener) {
      fields = { client: value.client, publication: value.publication, parameters: value.parameters };
    } else if (value instanceof Group) {
      fields = { id: value.id, rawId: value.rawId, members: temp(this.keep(this.prelude.collection, ['members', id])) };
    } else if (kind === 'member') {
      const member = value as GroupMember;
      fields = { id: member.id, rawId: member.rawId };
    }
    this.invoke(this.prelude.newObject, [kind, id, fields]);
    for (const ref of temps) {
      this.vm.unref(ref.ref);
    }
  }

  release(object: object): void {
    const entry = this.tables.get(object);
    if (entry === undefined) {
      return;
    }
    this.tables.delete(object);
    this.byId.delete(entry.id);
    this.vm.unref(entry.ref);
    if (object instanceof Publication) {
      this.hookOwners.delete(object);
      this.hookApps.delete(object);
      this.mediaHooks.delete(object);
      this.ctx.taps.set(object, 'lua', null);
    }
  }

  /** `client.parameters` after onConnection returned fields. */
  mergeParameters(client: Client, fields: Record<string, unknown>): void {
    if (!this.tables.has(client)) {
      return;
    }
    const top = this.vm.top;
    this.invoke(this.prelude.merge, [client, 'parameters', fields]);
    this.vm.top = top;
  }

  // --- apps --------------------------------------------------------------------------------

  private chunkName(file: string): string {
    return `@${relative(this.ctx.api.config.application.dir, file) || file}`;
  }

  load(app: App, file: string): void {
    const env = this.envOf(app);
    const code = compatChunk(readFileSync(file));
    this.run(app, 'main', () => {
      const top = this.vm.top;
      this.invoke(this.prelude.runMain, [env, code, this.chunkName(file)], this.ctx.limits.timeoutMs);
      this.vm.top = top;
    });
  }

  /** The environment of an app (kept across reloads, so clients keep seeing the app's globals). */
  envOf(app: App): LuaRef {
    if (!(app.runtime instanceof LuaRef)) {
      const parent = app.parent !== null && app.parent.effectiveKind === 'lua' ? this.envOf(app.parent) : null;
      app.runtime = this.keep(this.prelude.newApp, [parent, app.id, app.name, app.path]);
    }
    return app.runtime as LuaRef;
  }

  unload(app: App): void {
    this.sockets.closeApp(app);
    if (app.runtime instanceof LuaRef) {
      const top = this.vm.top;
      try {
        this.invoke(this.prelude.clearApp, [app.runtime], this.ctx.limits.timeoutMs);
      } catch (err) {
        this.ctx.log.warn(`app ${app.label}: clearing: ${String(err)}`);
      }
      this.vm.top = top;
    }
  }

  /** Runs `fn` as code of `app`, turning Lua failures into ScriptErrors that name the app, the hook and the limit. */
  private run<T>(app: App | null, hook: string, fn: () => T): T {
    const outer = this.currentApp;
    this.currentApp = app;
    this.depth++;
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof LuaCallError)) {
        throw err;
      }
      const where = `app ${app?.label ?? '?'} ${hook}`;
      if (err.kind === 'timeout') {
        throw new ScriptError(`${where}: time budget of ${this.ctx.limits.timeoutMs} ms exceeded (application.timeout)`, 'time');
      }
      if (err.kind === 'memory') {
        this.collect();
        throw new ScriptError(`${where}: memory cap of ${this.ctx.limits.memoryMax} bytes exceeded (application.memoryMax)`, 'memory');
      }
      throw new ScriptError(err.message);
    } finally {
      this.currentApp = outer;
      // The outermost call commits its writes to `data` before its answer goes out (acknowledged).
      if (--this.depth === 0) {
        this.ctx.api.data.commit();
      }
    }
  }

  private collect(): void {
    const top = this.vm.top;
    try {
      this.invoke(this.prelude.gc, []);
    } catch {
      // nothing more to free
    }
    this.vm.top = top;
  }

  private hookCall(app: App | null, hook: string, fn: number, args: readonly unknown[]): HookResult {
    return this.run(app, hook, () => {
      const base = this.vm.top;
      try {
        const n = this.invoke(fn, args, this.ctx.limits.timeoutMs, app);
        return n === 0 ? NO_HOOK : { defined: true, values: this.values.readRange(base + 2, n - 1) };
      } finally {
        this.vm.top = base;
      }
    });
  }

  defines(app: App, name: string): boolean {
    if (!app.loaded || app.effectiveKind !== 'lua') {
      return false;
    }
    const base = this.vm.top;
    try {
      const n = this.invoke(this.prelude.defines, [this.envOf(app), name]);
      return n > 0 && this.vm.toBoolean(-1);
    } catch {
      return false;
    } finally {
      this.vm.top = base;
    }
  }

  callAppHook(app: App, name: string, own: boolean, args: readonly unknown[]): HookResult {
    return this.hookCall(app, name, this.prelude.appHook, [this.envOf(app), name, own, ...args]);
  }

  callClientHook(app: App, client: Client, name: string, args: readonly unknown[]): HookResult {
    return this.hookCall(app, name, this.prelude.objectHook, [client, name, ...args]);
  }

  callObjectHook(app: App | null, object: object, name: string, args: readonly unknown[]): HookResult {
    return this.tables.has(object) ? this.hookCall(app, name, this.prelude.objectHook, [object, name, ...args]) : NO_HOOK;
  }

  // --- publication hooks -------------------------------------------------------------------

  /** A script (un)defined a publication hook: the observer follows, so undefined hooks cost nothing. */
  publicationHookChanged(publication: Publication): void {
    const entry = this.tables.get(publication);
    const defined = new Set<MediaHook>();
    if (entry !== undefined) {
      const vm = this.vm;
      vm.pushRef(entry.ref);
      for (const name of MEDIA_HOOKS) {
        vm.pushString(name);
        if (vm.rawGet(-2) === LuaType.FUNCTION) {
          defined.add(name);
        }
        vm.top = -2;
      }
      vm.top = -2;
    }
    if (defined.size > 0) {
      this.mediaHooks.set(publication, defined);
      if (this.currentApp !== null) {
        this.hookOwners.set(publication, this.currentApp.label);
        this.hookApps.set(publication, this.currentApp);
      }
    } else {
      this.mediaHooks.delete(publication);
    }
    this.ctx.taps.set(publication, 'lua', defined.size > 0 ? this.observe : null);
  }

  private readonly observe = (publication: Publication, frame: MediaFrame): void => {
    const hooks = this.mediaHooks.get(publication);
    if (hooks === undefined) {
      return;
    }
    if (frame.kind === FrameKind.DATA) {
      if (hooks.has('onData')) {
        let values: unknown[];
        try {
          values = decodeAmf0(frame.payload);
        } catch {
          values = [frame.payload];
        }
        this.publicationHook(publication, 'onData', values);
      }
      if (frame.isMetadata && hooks.has('onProperties')) {
        this.publicationHook(publication, 'onProperties', [publication.properties]);
      }
    } else {
      const name = frame.kind === FrameKind.VIDEO ? 'onVideo' : 'onAudio';
      if (hooks.has(name)) {
        this.publicationHook(publication, name, [frame.timestamp, frame.payload]);
      }
    }
    if (hooks.has('onFlush') && !this.flushPending.has(publication)) {
      this.flushPending.add(publication);
      setImmediate(() => {
        this.flushPending.delete(publication);
        if (this.tables.has(publication)) {
          this.publicationHook(publication, 'onFlush', []);
        }
      });
    }
  };

  private publicationHook(publication: Publication, name: string, args: readonly unknown[]): void {
    try {
      this.run(null, `publication ${publication.name} ${name}`, () => {
        const base = this.vm.top;
        this.invoke(this.prelude.objectHook, [publication, name, ...args], this.ctx.limits.timeoutMs, this.hookApps.get(publication) ?? null);
        this.vm.top = base;
      });
    } catch (err) {
      const owner = this.hookOwners.get(publication);
      this.ctx.log.error(`${owner === undefined ? '' : `app ${owner}: `}${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // --- housekeeping ------------------------------------------------------------------------

  manage(): void {
    const core = this.ctx.api.core;
    for (const object of [...this.tables.keys()]) {
      const gone =
        (object instanceof Client && object.state === 'closed') ||
        (object instanceof Listener && object.released) ||
        (object instanceof Publication && core.publication(object.name) !== object);
      if (gone) {
        this.release(object);
      }
    }
  }

  close(): void {
    this.sockets.closeAll();
    this.ctx.taps.clear('lua');
    this.mediaHooks.clear();
    this.tables.clear();
    this.byId.clear();
  }
}
