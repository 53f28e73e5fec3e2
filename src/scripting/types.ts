/**
 * Types for JavaScript/TypeScript server applications (`www/<app>/main.js` or `main.mjs`):
 *
 * ```ts
 * import type { AppHooks, ScriptClient } from 'nimbus-media-server';
 * export const onConnection: AppHooks['onConnection'] = function (client, ...args) { ... };
 * ```
 */
import type { JsAppContext } from './js/JsRuntime.js';
import type { JsClient, JsGroup, JsListener, JsPublication } from './js/JsObjects.js';

export type { JsAppContext as AppContext } from './js/JsRuntime.js';
export type { JsMona as Mona } from './js/JsMona.js';
export type { JsClient as ScriptClient, JsWriter as ScriptWriter, JsPublication as ScriptPublication } from './js/JsObjects.js';
export type { JsListener as ScriptListener, JsGroup as ScriptGroup, LiveCollection, ServerCollection } from './js/JsObjects.js';
export type { ScriptServer, ServerDirectory } from './ServerDirectory.js';

type Result<T> = T | Promise<T>;

/**
 * The hooks a JS app may export (all optional), called with `this` = its AppContext. Throwing
 * rejects where MonaServer's `error()` does (mona-api.md §1.6). Hooks on the client
 * (`client.onPublish = ...`, RPC methods) and on publications (`publication.onVideo = ...`) are
 * set on those objects, as in Lua.
 */
export interface AppHooks {
  onStart?(this: JsAppContext, path: string): Result<void>;
  onStop?(this: JsAppContext, path: string): Result<void>;
  /** Return an object: its fields go into the connect response and `client.parameters`. */
  onConnection?(this: JsAppContext, client: JsClient, ...args: unknown[]): Result<Record<string, unknown> | void>;
  onDisconnection?(this: JsAppContext, client: JsClient): Result<void>;
  /** Root app only, every 2 s. */
  onManage?(this: JsAppContext): Result<void>;
  /** RTMFP: addresses ("host:port", "myself", servers, arrays) to redirect the client to. */
  onHandshake?(this: JsAppContext, protocol: string, address: string, path: string, properties: Record<string, string>, attempts: number): Result<unknown>;
  onRendezVousUnknown?(this: JsAppContext, protocol: string, peerId: Buffer): Result<unknown>;
}

/** Hooks a script sets on a client (`client.onPublish = (publication) => ...`). */
export interface ClientHooks {
  /** Return false or throw to refuse (NetStream.Publish.BadName). */
  onPublish?(publication: JsPublication): Result<boolean | void>;
  onUnpublish?(publication: JsPublication): Result<void>;
  /** Return false or throw to refuse (NetStream.Play.Failed). */
  onSubscribe?(listener: JsListener): Result<boolean | void>;
  onUnsubscribe?(listener: JsListener): Result<void>;
  onJoinGroup?(group: JsGroup): Result<void>;
  onUnjoinGroup?(group: JsGroup): Result<void>;
  onAddressChanged?(oldAddress: string): Result<void>;
}
