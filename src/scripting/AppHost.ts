import type { Config } from '../config/Config.js';
import type { Client } from '../core/Client.js';
import type { Core } from '../core/Core.js';
import type { Group } from '../core/Group.js';
import type { Listener } from '../core/Listener.js';
import type { Publication } from '../core/Publication.js';
import type { ConnectionResponse, HandshakeInfo, ReadDecision, ServerHooks } from '../core/ServerHooks.js';
import { RejectionError, callFailed, errorMessage, rejectConnection, rejectPlay, rejectPublish } from '../errors.js';
import { Logger } from '../util/Logger.js';
import type { App } from './App.js';
import { AppLoader, quietly } from './AppLoader.js';
import { unwatchPackets, watchPackets } from './CumulusPackets.js';
import { type HookResult, NO_HOOK, ScriptError } from './AppRuntime.js';
import type { AppTree } from './AppTree.js';
import { resolveAddresses } from './addresses.js';
import type { JsWorkers } from './js/JsWorkers.js';
import type { LuaRuntime } from './lua/LuaRuntime.js';
import { ScriptApi } from './ScriptApi.js';
import { ScriptLimitStrikes, hostOf } from './ScriptLimitStrikes.js';
import { type ScriptServer, type ServerDirectory, ServerListView, noServers } from './ServerDirectory.js';

const log = new Logger('app');

/** Client events CumulusServer dispatched to global functions with the client first (mona-api.md §1.8). */
const CUMULUS_EVENTS = new Set(['onPublish', 'onUnpublish', 'onSubscribe', 'onUnsubscribe', 'onJoinGroup', 'onUnjoinGroup']);

const tableOf = (v: unknown): Record<string, unknown> | null =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : null;

/**
 * What onRead/onWrite returned (MonaServer's file-access answers): a name is that file (with a
 * table of template properties after it), a table the file asked for with those properties, an
 * explicit nil or anything else a refusal.
 */
function fileDecision(values: readonly unknown[], file: string): ReadDecision {
  const [first, second] = values;
  if (typeof first === 'string') {
    return { forbidden: false, file: first, properties: tableOf(second) };
  }
  if (tableOf(first) !== null) {
    return { forbidden: false, file, properties: tableOf(first) };
  }
  return { forbidden: true };
}

/**
 * Server applications (MonaServer's app tree, mona-api.md §3): implements the hook contract by
 * finding the app of a client's path, (re)loading it when its main file changed, and calling its
 * Lua or JS hooks. A script's failure only ever fails the hook call it happened in.
 */
export class AppHost implements ServerHooks {
  readonly api: ScriptApi;
  private readonly apps: AppLoader;
  /** Set by Server.ts: an app (re)started here, so peers of the mesh that have it load it too. */
  onAppStarted: ((path: string) => void) | null = null;
  /** The servers each app's `onServerConnection` ran for (its `onServerDisconnection` runs for those). */
  private readonly announced = new Map<App, Set<ScriptServer>>();
  /** Clients whose hooks ran into a script limit: disconnected, their address refused after repeats. */
  readonly strikes: ScriptLimitStrikes;

  constructor(core: Core, config: Config, servers: ServerDirectory = noServers) {
    this.api = new ScriptApi(core, config, servers);
    this.strikes = new ScriptLimitStrikes(config.application.limitStrikes);
    this.apps = new AppLoader(this.api, config);
    this.apps.events = {
      started: (app) => this.appStarted(app),
      stopping: (app) => this.appStopping(app),
    };
  }

  get tree(): AppTree {
    return this.apps.tree;
  }

  private get lua(): LuaRuntime | null {
    return this.apps.lua;
  }

  private get js(): JsWorkers | null {
    return this.apps.js;
  }

  /** Loads the root app (`www/main.*`) and runs its onStart. */
  async start(): Promise<void> {
    if (!this.tree.enabled) {
      log.info(`no ${this.api.wwwDir} folder: every application path is accepted`);
      return;
    }
    await this.apps.open(this.tree.root);
  }

  /** onStop for every loaded app, deepest first. */
  stop(): void {
    this.apps.stop();
  }

  /** The 2 s tick: root reload check, root `onManage`, runtime housekeeping. */
  async manage(): Promise<void> {
    const root = this.tree.root;
    if (this.tree.enabled) {
      await this.apps.check(root, Date.now());
      const runtime = this.apps.runtimeOf(root);
      if (runtime !== null && root.loaded) {
        await quietly(root, 'onManage', () => runtime.callAppHook(root, 'onManage', true, []));
      }
    }
    this.lua?.manage();
    this.js?.manage();
  }

  /**
   * Runs a hook whose failure is the client's answer: limits are logged, the message becomes the
   * rejection. A hook of `client` that ran into a limit also costs the client its connection
   * (after the answer) and its address a strike (ScriptLimitStrikes).
   */
  private async decisive(
    app: App,
    hook: string,
    call: () => HookResult | Promise<HookResult>,
    reject: (m: string) => RejectionError,
    client: Client | null = null,
  ): Promise<HookResult> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof RejectionError) {
        throw err;
      }
      if (err instanceof ScriptError && err.limit !== null) {
        log.error(err.message);
        if (client !== null) {
          this.struck(client, hook);
        }
      } else {
        log.debug(`app ${app.label} ${hook}: ${errorMessage(err)}`);
      }
      throw reject(errorMessage(err));
    }
  }

  /** `client`'s hook ran into a script limit: it is disconnected once its answer is out, its address gets a strike. */
  private struck(client: Client, hook: string): void {
    const host = hostOf(client.address);
    if (this.strikes.record(host)) {
      log.warn(`${host}: refused for ${this.strikes.windowMs / 1000} s, its clients ran ${this.strikes.strikes} script hooks into a limit (application.limitStrikes)`);
    }
    if (hook !== 'onConnection') {
      // After the answer (Call.Failed, a rejection) has been written.
      setImmediate(() => client.writer.close(`its ${hook} ran into a script limit`));
    }
  }

  // --- hooks -------------------------------------------------------------------------------

  async onConnection(client: Client, args: readonly unknown[]): Promise<ConnectionResponse | undefined> {
    if (!this.tree.enabled) {
      return undefined;
    }
    const host = hostOf(client.address);
    if (this.strikes.refused(host)) {
      throw rejectConnection(`${host} is refused for a while: its clients ran script hooks into a limit`);
    }
    const app = this.apps.resolve(client.path);
    await this.apps.open(app);
    const error = this.apps.errorOf(app);
    if (error !== null) {
      throw rejectConnection(error);
    }
    this.api.clientApps.set(client, app);
    const runtime = this.apps.runtimeOf(app);
    if (runtime === null) {
      return undefined;
    }
    let result: HookResult;
    try {
      result = await this.decisive(app, 'onConnection', () => runtime.callAppHook(app, 'onConnection', false, [client, ...args]), rejectConnection, client);
    } catch (err) {
      this.api.clientApps.delete(client);
      runtime.release(client);
      throw err;
    }
    const returned = result.values[0];
    if (typeof returned === 'object' && returned !== null && !Array.isArray(returned) && !Buffer.isBuffer(returned)) {
      const response = { ...(returned as Record<string, unknown>) };
      this.lua?.mergeParameters(client, response);
      return response;
    }
    if (returned !== undefined && returned !== null) {
      log.error(`app ${app.label} onConnection: the value returned must be a table of connection parameters`);
    }
    return undefined;
  }

  onDisconnection(client: Client): Promise<void> | undefined {
    const app = this.api.clientApps.get(client);
    const runtime = app === undefined ? null : this.apps.runtimeOf(app);
    if (app === undefined || runtime === null) {
      this.api.clientApps.delete(client);
      return undefined;
    }
    return quietly(app, 'onDisconnection', () => runtime.callAppHook(app, 'onDisconnection', false, [client])).then(() => {
      this.api.clientApps.delete(client);
      runtime.release(client);
    });
  }

  /** A hook defined on the client object, or NO_HOOK when the client has no scripted app. */
  private async clientHook(client: Client, name: string, args: readonly unknown[], reject: ((m: string) => RejectionError) | null): Promise<HookResult> {
    const app = this.api.clientApps.get(client);
    const runtime = app === undefined ? null : this.apps.runtimeOf(app);
    if (app === undefined || runtime === null) {
      return NO_HOOK;
    }
    const call = async (): Promise<HookResult> => {
      const own = await runtime.callClientHook(app, client, name, args);
      // CumulusServer's form: a global `onPublish(client, publication)` when the client has none.
      return own.defined || !CUMULUS_EVENTS.has(name) ? own : runtime.callAppHook(app, name, false, [client, ...args]);
    };
    return reject === null ? quietly(app, name, call) : this.decisive(app, name, call, reject, client);
  }

  async onPublish(client: Client, publication: Publication): Promise<void> {
    const result = await this.clientHook(client, 'onPublish', [publication], rejectPublish);
    if (result.defined && result.values[0] === false) {
      throw rejectPublish(`Not allowed to publish ${publication.name}`);
    }
    const app = this.api.clientApps.get(client);
    const runtime = app === undefined ? null : this.apps.runtimeOf(app);
    if (app !== undefined && runtime !== null) {
      watchPackets(this.apps.taps, runtime, app, client, publication);
    }
  }

  async onUnpublish(client: Client, publication: Publication): Promise<void> {
    unwatchPackets(this.apps.taps, publication);
    await this.clientHook(client, 'onUnpublish', [publication], null);
  }

  async onSubscribe(client: Client, listener: Listener): Promise<void> {
    let result: HookResult;
    try {
      result = await this.clientHook(client, 'onSubscribe', [listener], rejectPlay);
    } catch (err) {
      this.releaseEverywhere(listener);
      throw err;
    }
    if (result.defined && result.values[0] === false) {
      this.releaseEverywhere(listener);
      throw rejectPlay(`Not authorized to play ${listener.publication.name}`);
    }
  }

  async onUnsubscribe(client: Client, listener: Listener): Promise<void> {
    await this.clientHook(client, 'onUnsubscribe', [listener], null);
    this.releaseEverywhere(listener);
  }

  private releaseEverywhere(object: object): void {
    this.lua?.release(object);
    this.js?.release(object);
  }

  async onMessage(client: Client, name: string, args: readonly unknown[]): Promise<readonly unknown[]> {
    const result = await this.clientHook(client, name, args, callFailed);
    if (!result.defined) {
      throw callFailed(`Method client '${name}' not found in application ${client.path === '' ? '/' : client.path}`);
    }
    return result.values;
  }

  async onJoinGroup(client: Client, group: Group): Promise<void> {
    this.api.groups.set(group.id, group);
    await this.clientHook(client, 'onJoinGroup', [group], null);
  }

  async onUnjoinGroup(client: Client, group: Group): Promise<void> {
    await this.clientHook(client, 'onUnjoinGroup', [group], null);
    if (group.size === 0) {
      this.api.groups.delete(group.id);
    }
  }

  async onAddressChanged(client: Client, oldAddress: string): Promise<void> {
    await this.clientHook(client, 'onAddressChanged', [oldAddress], null);
  }

  async onRead(client: Client, file: string, parameters: Record<string, string>): Promise<ReadDecision | undefined> {
    const result = await this.clientHook(client, 'onRead', [file, parameters], callFailed);
    if (!result.defined || result.values.length === 0 || result.values[0] === undefined) {
      // No hook, or it returned nothing (a JS hook's undefined): the file is served (MonaServer reads only what was returned).
      return undefined;
    }
    return fileDecision(result.values, file);
  }

  async onWrite(client: Client, file: string, parameters: Record<string, string>): Promise<ReadDecision | undefined | null> {
    // MonaServer declares onWrite beside onRead (one file-access hook, the same answers); it is the
    // only way a PUT is accepted here: without it, null.
    const result = await this.clientHook(client, 'onWrite', [file, parameters], callFailed);
    if (!result.defined) {
      return null;
    }
    if (result.values.length === 0 || result.values[0] === undefined) {
      // Nothing returned (a JS hook's undefined): write the file asked for.
      return undefined;
    }
    return fileDecision(result.values, file);
  }

  async callIfDefined(client: Client, name: string, args: readonly unknown[]): Promise<readonly unknown[] | null> {
    const result = await this.clientHook(client, name, args, callFailed);
    return result.defined ? result.values : null;
  }

  async onHandshake(info: HandshakeInfo): Promise<readonly string[]> {
    if (!this.tree.enabled) {
      return [];
    }
    let app: App;
    try {
      app = this.apps.resolve(info.path);
    } catch {
      return [];
    }
    await this.apps.open(app);
    const runtime = this.apps.runtimeOf(app);
    if (runtime === null || this.apps.errorOf(app) !== null) {
      return [];
    }
    const result = await quietly(app, 'onHandshake', () =>
      runtime.callAppHook(app, 'onHandshake', false, [info.protocol, info.address, info.path, info.properties, info.attempts]),
    );
    return this.addresses(result.values, info.protocol);
  }

  async onRendezVousUnknown(protocol: string, peerId: Buffer): Promise<readonly string[]> {
    const root = this.tree.root;
    const runtime = this.apps.runtimeOf(root);
    if (runtime === null || !root.loaded) {
      return [];
    }
    const result = await quietly(root, 'onRendezVousUnknown', () => runtime.callAppHook(root, 'onRendezVousUnknown', true, [protocol, peerId]));
    return this.addresses(result.values, protocol);
  }

  // --- mesh (called by the mesh through Server.ts) ------------------------------------------

  /**
   * A server joined the mesh (it must already be in the ServerDirectory's list): every loaded app
   * that defines `onServerConnection` gets it once, root first. An error rejects the server with
   * its message. (MonaServer called the root's again each time any app loaded, which made the
   * seed's relay script reject its own next server; here each app hears of each server once.)
   */
  async onServerConnection(server: ScriptServer): Promise<void> {
    for (const app of this.tree.all().reverse()) {
      await this.announce(app, server);
    }
  }

  /** A server left: `onServerDisconnection(server, error)` in every app that heard of it. */
  async onServerDisconnection(server: ScriptServer, error?: string): Promise<void> {
    for (const [app, servers] of [...this.announced]) {
      if (servers.delete(server)) {
        await this.farewell(app, server, error);
      }
    }
    this.lua?.release(server);
  }

  /** `onServerConnection` of `app` (its own, not inherited) for `server`, once; `loading`: wait for a load in progress. */
  private async announce(app: App, server: ScriptServer, loading = true): Promise<void> {
    if (loading && app.loading !== null) {
      await app.loading;
    }
    const runtime = app.loaded && app.error === null && app.kind !== 'none' ? this.apps.runtimeOf(app) : null;
    let servers = this.announced.get(app);
    if (runtime === null || servers?.has(server) === true) {
      return;
    }
    if (servers === undefined) {
      servers = new Set();
      this.announced.set(app, servers);
    }
    servers.add(server);
    await this.decisive(app, 'onServerConnection', () => runtime.callAppHook(app, 'onServerConnection', true, [server]), rejectConnection);
  }

  private async farewell(app: App, server: ScriptServer, error?: string): Promise<void> {
    const runtime = this.apps.runtimeOf(app);
    if (runtime !== null && app.kind !== 'none') {
      await quietly(app, 'onServerDisconnection', () => runtime.callAppHook(app, 'onServerDisconnection', true, error === undefined ? [server] : [server, error]));
    }
  }

  /** An app started (or reloaded): peers hear of it ("."), and it hears of every connected server. */
  private async appStarted(app: App): Promise<void> {
    this.onAppStarted?.(app.path);
    for (const server of this.api.servers.list()) {
      try {
        await this.announce(app, server, false);
      } catch (err) {
        server.reject(errorMessage(err));
      }
    }
  }

  /** An app stops (reload, folder removed, server stop): `onServerDisconnection` for the servers it knew. */
  private appStopping(app: App): void {
    const servers = this.announced.get(app);
    this.announced.delete(app);
    for (const server of servers ?? []) {
      void this.farewell(app, server);
    }
  }

  /** Paths of the apps running here (root first), for the mesh's "." message. */
  runningApps(): string[] {
    return this.tree.enabled ? this.tree.all().reverse().filter((app) => app.loaded && app.error === null).map((app) => app.path) : [];
  }

  /** A peer runs `paths`: the ones this server has (a folder in `www/`) are loaded, as MonaServer did. */
  async syncApps(paths: readonly string[]): Promise<void> {
    if (!this.tree.enabled) {
      return;
    }
    for (const path of paths) {
      let app: App;
      try {
        app = this.apps.resolve(path);
      } catch {
        continue;
      }
      await this.apps.open(app);
    }
  }

  /** `server:send(handler, ...)` from a peer: the `server:<handler>(...)` a script defined; false when none did. */
  async onServerMessage(server: ScriptServer, handler: string, args: readonly unknown[]): Promise<boolean> {
    let handled = false;
    for (const runtime of [this.lua, this.js]) {
      if (runtime !== null) {
        const result = await quietly(this.tree.root, `server:${handler}`, () => runtime.callObjectHook(this.tree.root, server, handler, args));
        handled ||= result.defined;
      }
    }
    return handled;
  }

  private addresses(values: readonly unknown[], protocol: string): string[] {
    const servers = this.api.servers;
    return resolveAddresses(values, protocol, {
      servers,
      isServer: (v): v is ScriptServer => servers.list().includes(v as ScriptServer),
      serverList: (v) => (v instanceof ServerListView ? v.servers() : null),
    }, (m) => log.warn(`redirection: ${m}`));
  }
}
