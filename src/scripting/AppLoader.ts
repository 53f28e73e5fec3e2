import type { Config } from '../config/Config.js';
import { errorMessage } from '../errors.js';
import { Logger } from '../util/Logger.js';
import { type App, RELOAD_CHECK_MS } from './App.js';
import { type AppRuntime, type HookResult, NO_HOOK, type RuntimeContext, ScriptError } from './AppRuntime.js';
import { AppTree } from './AppTree.js';
import { JsWorkers } from './js/JsWorkers.js';
import { LuaRuntime } from './lua/LuaRuntime.js';
import { ScriptTaps } from './ScriptTaps.js';
import type { ScriptApi } from './ScriptApi.js';

const log = new Logger('app');

/** Runs a hook whose answer changes nothing: a failure is logged, never thrown. */
export const quietly = async (app: App, hook: string, call: () => HookResult | Promise<HookResult>): Promise<HookResult> => {
  try {
    return await call();
  } catch (err) {
    // A limit breach already names the app, the hook and the limit.
    log.error(err instanceof ScriptError && err.limit !== null ? err.message : `app ${app.label} ${hook}: ${errorMessage(err)}`);
    return NO_HOOK;
  }
};

/** What the host hears about apps starting and stopping (the mesh's per-app server events). */
export interface AppEvents {
  /** `app` ran its main file and onStart. */
  started(app: App): Promise<void> | void;
  /** `app` is about to stop (before onStop). */
  stopping(app: App): void;
}

/**
 * The app tree's lifecycle (mona-api.md §3): loads an app and its parents on first use, reloads
 * one whose main file changed (checked at most every 2 s: onStop, reload, onStart), keeps a
 * failed app's error, and owns the Lua and JS runtimes (created when a first app needs them).
 */
export class AppLoader {
  readonly tree: AppTree;
  readonly taps: ScriptTaps;
  lua: LuaRuntime | null = null;
  private luaLoading: Promise<LuaRuntime> | null = null;
  js: JsWorkers | null = null;
  events: AppEvents | null = null;
  private readonly context: RuntimeContext;

  constructor(
    readonly api: ScriptApi,
    config: Config,
  ) {
    this.tree = new AppTree(api.wwwDir);
    this.taps = new ScriptTaps(api.servers, config.servers.queueBytes);
    this.context = {
      api,
      taps: this.taps,
      limits: { timeoutMs: config.application.timeoutMs, memoryMax: config.application.memoryMax },
      log: new Logger('script'),
      appById: (id) => this.tree.byAppId(id),
      childApp: (app, name, load) => this.childApp(app, name, load),
    };
  }

  /** onStop for every loaded app, deepest first; then the runtimes close, and the persistent data. */
  stop(): void {
    for (const app of this.tree.all()) {
      this.unload(app);
    }
    this.lua?.close();
    this.js?.close();
    this.api.data.close();
  }

  /** The app at `path` (a RejectionError MS_ERR_CONNECT_INVALID_APP when its folder is missing). */
  resolve(path: string): App {
    return this.tree.resolve(path, this.removed);
  }

  private readonly removed = (app: App): void => {
    this.unload(app);
  };

  /** Loads `app` and its ancestors when needed (checking changed files at most every 2 s). */
  async open(app: App): Promise<void> {
    const now = Date.now();
    for (const a of [...app.lineage()].reverse()) {
      await this.check(a, now);
    }
  }

  async check(app: App, now: number): Promise<void> {
    if (app.loading !== null) {
      await app.loading;
      return;
    }
    const scan = this.prepare(app, now);
    if (scan === null) {
      return;
    }
    // Connections arriving meanwhile wait for the same load.
    app.loading = (async () => {
      try {
        const runtime = await this.runtime(scan.kind === 'lua' ? 'lua' : 'js');
        await runtime.load(app, scan.file);
      } catch (err) {
        this.failed(app, err);
        return;
      }
      await this.started(app);
      await this.announce(app);
    })();
    try {
      await app.loading;
    } finally {
      app.loading = null;
    }
  }

  /**
   * The reload decision: null when the app is up to date (or has no main file), else the file to
   * run; a changed app is stopped first.
   */
  private prepare(app: App, now: number): { file: string; kind: 'lua' | 'js' } | null {
    if (app.loaded && now - app.lastCheck < RELOAD_CHECK_MS) {
      return null;
    }
    app.lastCheck = now;
    const scan = app.scan();
    if (app.loaded && scan.file === app.file && scan.mtime === app.loadedMtime) {
      return null;
    }
    if (app.loaded) {
      log.info(`app ${app.label}: ${scan.file ?? 'main file'} changed, reloading`);
      this.unload(app);
    }
    app.file = scan.file;
    app.kind = scan.kind;
    app.loadedMtime = scan.mtime;
    app.error = null;
    app.loaded = true;
    return scan.file === null || scan.kind === 'none' ? null : { file: scan.file, kind: scan.kind };
  }

  private async announce(app: App): Promise<void> {
    try {
      await this.events?.started(app);
    } catch (err) {
      log.error(`app ${app.label}: ${errorMessage(err)}`);
    }
  }

  private failed(app: App, err: unknown): void {
    app.error = errorMessage(err);
    log.error(`app ${app.label}: ${app.error}`);
  }

  private started(app: App): Promise<HookResult> | HookResult {
    log.info(`Application www${app.path} loaded`);
    const runtime = this.runtimeOf(app);
    if (runtime === null) {
      return NO_HOOK;
    }
    return quietly(app, 'onStart', () => runtime.callAppHook(app, 'onStart', true, [app.path]));
  }

  private unload(app: App): void {
    if (!app.loaded) {
      return;
    }
    const runtime = app.kind === 'lua' ? this.lua : app.kind === 'js' ? this.js : null;
    try {
      this.events?.stopping(app);
    } catch (err) {
      log.error(`app ${app.label}: ${errorMessage(err)}`);
    }
    if (runtime !== null && app.error === null) {
      try {
        const result = runtime.callAppHook(app, 'onStop', true, [app.path]);
        if (result instanceof Promise) {
          result.catch((err: unknown) => log.error(`app ${app.label} onStop: ${errorMessage(err)}`));
        }
      } catch (err) {
        log.error(`app ${app.label} onStop: ${errorMessage(err)}`);
      }
    }
    for (const publication of app.publications) {
      if (publication.publisher === null) {
        this.api.core.unpublish(publication);
      }
    }
    app.publications.clear();
    runtime?.unload(app);
    app.loaded = false;
  }

  private childApp(app: App, name: string, load: boolean): App | null {
    const child = this.tree.child(app, name, this.removed);
    const lua = this.lua;
    if (child === null || !load || lua === null || (child.loaded && child.kind !== 'js')) {
      return child;
    }
    // Loading from inside a script is synchronous: Lua apps (and empty ones) only.
    const kind = child.scan().kind;
    if (kind === 'js') {
      return child;
    }
    const scan = this.prepare(child, Date.now());
    if (scan !== null) {
      try {
        lua.load(child, scan.file);
      } catch (err) {
        this.failed(child, err);
        return child;
      }
      try {
        lua.callAppHook(child, 'onStart', true, [child.path]);
      } catch (err) {
        log.error(`app ${child.label} onStart: ${errorMessage(err)}`);
      }
      log.info(`Application www${child.path} loaded`);
      void this.announce(child);
    }
    return child;
  }

  private async runtime(kind: 'lua' | 'js'): Promise<AppRuntime> {
    if (kind === 'js') {
      if (this.js === null) {
        this.js = new JsWorkers(this.context);
        this.js.onLost = (apps, failed) => void this.restart(apps, failed);
      }
      return this.js;
    }
    if (this.lua !== null) {
      return this.lua;
    }
    this.luaLoading ??= LuaRuntime.create(this.context);
    this.lua = await this.luaLoading;
    return this.lua;
  }

  /**
   * JS apps whose worker had to be stopped (a hook past a limit): each is stopped as for a
   * reload (onStop cannot run: their code is gone with the worker), then loaded again with
   * onStart, parents first; one in `failed` stays stopped with that error until its file changes.
   */
  private async restart(apps: readonly App[], failed: ReadonlyMap<App, string>): Promise<void> {
    const order = this.tree.all().filter((app) => apps.includes(app));
    for (const app of order) {
      if (app.loading !== null) {
        await app.loading;
      }
    }
    for (const app of order) {
      this.unload(app);
      const error = failed.get(app);
      if (error !== undefined) {
        app.loaded = true;
        app.error = error;
      }
    }
    for (const app of order.reverse()) {
      if (!app.loaded) {
        try {
          await this.open(app);
        } catch (err) {
          log.error(`app ${app.label}: ${errorMessage(err)}`);
        }
      }
    }
  }

  /** The runtime whose hooks serve `app` (its own or its nearest ancestor's), null for none. */
  runtimeOf(app: App): AppRuntime | null {
    const kind = app.effectiveKind;
    return kind === 'lua' ? this.lua : kind === 'js' ? this.js : null;
  }

  /** The nearest app (self or ancestor) with a main file: its error, if any, is this app's. */
  errorOf(app: App): string | null {
    for (const a of app.lineage()) {
      if (a.kind !== 'none') {
        return a.error;
      }
    }
    return null;
  }
}
