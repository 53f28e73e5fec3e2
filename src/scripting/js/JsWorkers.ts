import { basename } from 'node:path';
import type { Client } from '../../core/Client.js';
import type { App } from '../App.js';
import { type AppRuntime, type HookResult, NO_HOOK, type RuntimeContext } from '../AppRuntime.js';
import {
  type ToJsWorker,
} from './JsWire.js';
import { Handles } from './JsHandles.js';
import { JsWorker, wireApp } from './JsWorkerThread.js';

/** Losses of one tree's worker with no hook to blame, within LOSS_WINDOW_MS, after which its apps stay stopped. */
const MAX_UNEXPLAINED_LOSSES = 3;
const LOSS_WINDOW_MS = 60_000;

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
