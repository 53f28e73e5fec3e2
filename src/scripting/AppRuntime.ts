import type { Client } from '../core/Client.js';
import type { Awaitable } from '../core/ServerHooks.js';
import type { Logger } from '../util/Logger.js';
import type { App } from './App.js';
import type { ScriptTaps } from './ScriptTaps.js';
import type { ScriptApi } from './ScriptApi.js';

/** What calling a hook gave: whether the script defines it, and what it returned. */
export interface HookResult {
  defined: boolean;
  values: unknown[];
}

export const NO_HOOK: HookResult = { defined: false, values: [] };

/** A script failed: its message (Lua: with `file:line:`), and whether a limit stopped it. */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly limit: 'time' | 'memory' | null = null,
  ) {
    super(message);
  }
}

export interface ScriptLimits {
  /** Time budget of one hook call, in ms (0 = none). */
  timeoutMs: number;
  /** Lua heap cap, and a JS app tree's worker heap cap (at least 16 MiB), in bytes (0 = none). */
  memoryMax: number;
}

/** What a runtime gets from the AppHost. */
export interface RuntimeContext {
  readonly api: ScriptApi;
  readonly taps: ScriptTaps;
  readonly limits: ScriptLimits;
  readonly log: Logger;
  appById(id: number): App | undefined;
  /** A child app of `app` (loaded when `load`), for `children`; null when there is none. */
  childApp(app: App, name: string, load: boolean): App | null;
}

/**
 * One script language. The AppHost owns the tree, reload and the mapping to protocol statuses;
 * a runtime loads files, keeps the script-side objects, and calls hooks.
 */
export interface AppRuntime {
  readonly kind: 'lua' | 'js';
  /** Runs the app's main file (the app's parent is loaded first by the host). Throws a ScriptError. */
  load(app: App, file: string): Awaitable<void>;
  /** Forgets everything the app defined (before a reload or when it stops). */
  unload(app: App): void;
  /** An app hook: `own` looks only at what the app itself defines, else parents' hooks serve too. */
  callAppHook(app: App, name: string, own: boolean, args: readonly unknown[]): Awaitable<HookResult>;
  /** A hook or RPC method defined on the client object (`function client:onPublish()`). */
  callClientHook(app: App, client: Client, name: string, args: readonly unknown[]): Awaitable<HookResult>;
  /** A method a script defined on another object (a mesh server's `server:handler(...)`). */
  callObjectHook(app: App | null, object: object, name: string, args: readonly unknown[]): Awaitable<HookResult>;
  /** Whether the app (or a parent it inherits from) defines the global function `name` (Lua; JS: undefined). */
  defines?(app: App, name: string): boolean;
  /** The script-side object of a core object that is gone (client left, listener released). */
  release(object: object): void;
  /** Periodic housekeeping (2 s). */
  manage(): void;
  close(): void;
}
