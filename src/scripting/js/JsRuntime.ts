import { pathToFileURL } from 'node:url';
import { decodeAmf0 } from '../../amf/index.js';
import { Client } from '../../core/Client.js';
import { Group } from '../../core/Group.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import { FrameKind, type MediaFrame } from '../../media/MediaFrame.js';
import type { App } from '../App.js';
import { type AppRuntime, type HookResult, NO_HOOK, type RuntimeContext, ScriptError } from '../AppRuntime.js';
import type { ScriptApi } from '../ScriptApi.js';
import { jsSocketFunctions } from '../sockets/JsSockets.js';
import { ScriptSockets } from '../sockets/ScriptSockets.js';
import { type DataAccess, type DataTables, appData, treeAccess } from './JsData.js';
import { createMona, type JsMona } from './JsMona.js';
import { JsClient, JsGroup, JsListener, type JsObjectFactory, JsPublication } from './JsObjects.js';
import { type TypedFound, typedToPlain, typedValues } from '../typedObjects.js';

type Hook = (...args: unknown[]) => unknown;

/** What a loaded `main.js` gave: its hooks (named exports, or the default export's functions). */
interface JsAppState {
  hooks: Record<string, Hook>;
  context: JsAppContext;
}

/** `this` inside a JS app's hooks. */
export interface JsAppContext {
  readonly name: string;
  readonly path: string;
  /** The parent app's context (null for the root): `this.super.onConnection(client)`. */
  readonly super: JsAppContext | null;
  readonly mona: JsMona;
  /** The app's persistent data (Lua's `data`): the table at its path, also `this.mona.data`. */
  readonly data: Record<string, unknown>;
  /** Hooks of this app, or inherited from its parents (bound to the app that defines them). */
  hook(name: string): Hook | undefined;
}

/**
 * JavaScript applications: `www/<app>/main.js` (or `.mjs`) is an ES module whose named exports (or
 * default export object) are the hooks, called with `this` = the app's context. A reload imports
 * the file again under a new URL (Node keeps old module versions in memory: fine for edits, not
 * for thousands of reloads). A hook may be async; its time budget applies to the promise.
 */
export class JsRuntime implements AppRuntime, JsObjectFactory {
  readonly kind = 'js';
  readonly api: ScriptApi;
  readonly mona: JsMona;
  /** The TCP/UDP sockets apps opened (closed with their app). */
  readonly sockets: ScriptSockets;
  private readonly wrappers = new WeakMap<object, object>();
  private readonly tapped = new Set<JsPublication>();
  private currentApp: App | null = null;
  /** How apps' `data` reaches the persistent data: the tree here, requests to the main thread in a worker. */
  protected dataAccess: DataAccess;
  private readonly dataTables: DataTables = new Map();

  constructor(private readonly ctx: RuntimeContext) {
    this.dataAccess = treeAccess(() => ctx.api.data.tree);
    this.api = ctx.api;
    this.sockets = new ScriptSockets(ctx.api.config.application.socketBuffer);
    this.mona = createMona(this, () => this.currentApp, this.sockets);
  }

  wrap(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) {
      return value;
    }
    let wrapper = this.wrappers.get(value);
    if (wrapper === undefined) {
      if (value instanceof Client) {
        wrapper = new JsClient(value);
      } else if (value instanceof Publication) {
        wrapper = new JsPublication(value, this);
      } else if (value instanceof Listener) {
        wrapper = new JsListener(value, this);
      } else if (value instanceof Group) {
        wrapper = new JsGroup(value, this);
      } else {
        return value;
      }
      this.wrappers.set(value, wrapper);
    }
    return wrapper;
  }

  async load(app: App, file: string): Promise<void> {
    let module: Record<string, unknown>;
    try {
      module = (await import(`${pathToFileURL(file).href}?v=${app.loadedMtime}`)) as Record<string, unknown>;
    } catch (err) {
      throw new ScriptError(err instanceof Error ? err.stack ?? err.message : String(err));
    }
    const source = typeof module.default === 'object' && module.default !== null ? (module.default as Record<string, unknown>) : module;
    const hooks: Record<string, Hook> = {};
    for (const [name, value] of Object.entries(source)) {
      if (typeof value === 'function') {
        hooks[name] = value as Hook;
      }
    }
    app.runtime = { hooks, context: this.contextOf(app, hooks) } satisfies JsAppState;
  }

  private contextOf(app: App, hooks: Record<string, Hook>): JsAppContext {
    const parentState = (): JsAppState | null => {
      for (let a = app.parent; a !== null; a = a.parent) {
        if (a.kind === 'js' && a.loaded && a.runtime !== null) {
          return a.runtime as JsAppState;
        }
      }
      return null;
    };
    const data = (): Record<string, unknown> => appData(this.dataAccess, app.path, this.dataTables);
    // Typed objects as MonaServer gives them to Lua: `{ __type: "Cat", ... }` both ways, onTypedObject on read.
    const amf = {
      toAMF: (...values: unknown[]): Buffer => this.mona.toAMF(...typedValues(values)),
      toAMF0: (...values: unknown[]): Buffer => this.mona.toAMF0(...typedValues(values)),
      fromAMF: (bytes: Uint8Array): unknown[] => this.typedIn(app, this.mona.fromAMF(bytes)),
    };
    const context: JsAppContext = {
      name: app.name,
      path: app.path,
      get super() {
        return parentState()?.context ?? null;
      },
      // Sockets made through an app's own `this.mona` are its own, whenever its code runs.
      mona: { ...this.mona, ...amf, ...jsSocketFunctions(this.sockets, () => app), get data() { return data(); } },
      get data() {
        return data();
      },
      hook: (name) => {
        const own = hooks[name];
        return own !== undefined ? own.bind(context) : parentState()?.context.hook(name);
      },
    };
    return context;
  }

  unload(app: App): void {
    this.sockets.closeApp(app);
    app.runtime = null;
  }

  /** The state whose hooks serve `app`: its own, or the nearest JS ancestor's (an empty app inherits). */
  private stateOf(app: App): JsAppState | null {
    for (const a of app.lineage()) {
      if (a.runtime !== null && a.kind === 'js') {
        return a.runtime as JsAppState;
      }
    }
    return null;
  }

  async callAppHook(app: App, name: string, own: boolean, args: readonly unknown[]): Promise<HookResult> {
    const state = own ? (app.runtime as JsAppState | null) : this.stateOf(app);
    const hook = own ? state?.hooks[name]?.bind(state.context) : state?.context.hook(name);
    if (hook === undefined) {
      return NO_HOOK;
    }
    return this.run(app, name, () => hook(...this.typedIn(app, args).map((a) => this.wrap(a))));
  }

  async callClientHook(app: App, client: Client, name: string, args: readonly unknown[]): Promise<HookResult> {
    const wrapper = this.wrap(client) as JsClient;
    const method = Object.prototype.hasOwnProperty.call(wrapper, name) ? wrapper[name] : undefined;
    if (typeof method !== 'function') {
      return NO_HOOK;
    }
    return this.run(app, name, () => (method as Hook).apply(wrapper, this.typedIn(app, args).map((a) => this.wrap(a))));
  }

  async callObjectHook(app: App | null, object: object, name: string, args: readonly unknown[]): Promise<HookResult> {
    const target = this.wrap(object) as Record<string, unknown>;
    const method = Object.prototype.hasOwnProperty.call(target, name) ? target[name] : undefined;
    if (typeof method !== 'function') {
      return NO_HOOK;
    }
    return this.run(app, name, () => (method as Hook).apply(target, this.typedIn(app, args).map((a) => this.wrap(a))));
  }

  /**
   * Values read from the wire or `fromAMF` as the app sees them: typed objects as `{ __type, ... }`,
   * each handed to the app's `onTypedObject(type, object)` (its own or inherited), the inner ones
   * first, as MonaServer's ScriptWriter does. What the hook returns is ignored; an error in it is
   * logged and the values go on as they are.
   */
  private typedIn(app: App | null, values: readonly unknown[]): unknown[] {
    const found: TypedFound[] = [];
    const out = typedToPlain(values, found) as unknown[];
    const state = app === null ? null : this.stateOf(app);
    const hook = found.length === 0 ? undefined : state?.context.hook('onTypedObject');
    if (hook !== undefined) {
      const outer = this.currentApp;
      this.currentApp = app;
      const failed = (err: unknown): void => this.ctx.log.error(`app ${app?.label ?? '?'} onTypedObject: ${err instanceof Error ? err.message : String(err)}`);
      try {
        for (const [type, object] of found) {
          try {
            const result = hook(type, object);
            if (result instanceof Promise) {
              result.catch(failed);
            }
          } catch (err) {
            failed(err);
          }
        }
      } finally {
        this.currentApp = outer;
      }
    }
    return out;
  }

  private async run(app: App | null, hook: string, call: () => unknown): Promise<HookResult> {
    const outer = this.currentApp;
    this.currentApp = app;
    let value: unknown;
    try {
      value = call();
    } catch (err) {
      throw new ScriptError(err instanceof Error ? err.message : String(err));
    } finally {
      this.currentApp = outer;
    }
    if (value instanceof Promise) {
      value = await this.withBudget(value as Promise<unknown>, `app ${app?.label ?? '?'} ${hook}`);
    }
    return { defined: true, values: typedValues([this.unwrap(value)]) };
  }

  private async withBudget(promise: Promise<unknown>, where: string): Promise<unknown> {
    const ms = this.ctx.limits.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await (ms > 0
        ? Promise.race([
            promise,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new ScriptError(`${where}: time budget of ${ms} ms exceeded (application.timeout)`, 'time')), ms);
            }),
          ])
        : promise);
    } catch (err) {
      throw err instanceof ScriptError ? err : new ScriptError(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Script objects handed back (in a connect response or RPC result) go out as their core values. */
  private unwrap(value: unknown): unknown {
    return value instanceof JsClient || value instanceof JsPublication || value instanceof JsListener || value instanceof JsGroup ? value.core : value;
  }

  // --- publication hooks -------------------------------------------------------------------

  mediaHooksChanged(publication: JsPublication): void {
    const hooks = publication.mediaHooks;
    const any = hooks.onVideo !== null || hooks.onAudio !== null || hooks.onData !== null || hooks.onFlush !== null || hooks.onProperties !== null;
    if (any) {
      this.tapped.add(publication);
    } else {
      this.tapped.delete(publication);
    }
    this.ctx.taps.set(publication.core, 'js', any ? (_p, frame) => this.observe(publication, frame) : null);
  }

  private observe(publication: JsPublication, frame: MediaFrame): void {
    const hooks = publication.mediaHooks;
    try {
      if (frame.kind === FrameKind.VIDEO) {
        hooks.onVideo?.call(publication, frame.timestamp, frame.payload);
      } else if (frame.kind === FrameKind.AUDIO) {
        hooks.onAudio?.call(publication, frame.timestamp, frame.payload);
      } else {
        if (hooks.onData !== null) {
          let values: unknown[];
          try {
            values = typedToPlain(decodeAmf0(frame.payload), []) as unknown[];
          } catch {
            values = [frame.payload];
          }
          hooks.onData.apply(publication, values);
        }
        if (frame.isMetadata) {
          hooks.onProperties?.call(publication, publication.core.properties);
        }
      }
    } catch (err) {
      this.ctx.log.error(`publication ${publication.name} hook: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  release(_object: object): void {
    // Wrappers live in a WeakMap: they go with their core object.
  }

  manage(): void {
    for (const publication of this.tapped) {
      if (this.api.core.publication(publication.name) !== publication.core) {
        this.tapped.delete(publication);
        this.ctx.taps.set(publication.core, 'js', null);
      }
    }
  }

  close(): void {
    this.sockets.closeAll();
    this.ctx.taps.clear('js');
    this.tapped.clear();
  }
}
