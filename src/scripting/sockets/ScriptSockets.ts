import { errorMessage } from '../../errors.js';
import { Logger } from '../../util/Logger.js';
import type { App } from '../App.js';
import { ScriptError } from '../AppRuntime.js';

export const log = new Logger('script');

export type SocketKind = 'tcpClient' | 'tcpServer' | 'udpSocket';

/**
 * A socket a script opened (`mona:createTCPClient()`, `createTCPServer()`, `createUDPSocket()`,
 * or a connection a script's TCP server accepted). It belongs to the app whose code made it: when
 * that app stops or reloads, the socket is closed without any script event (as MonaServer drops
 * an app's Lua objects). Events reach the script through whatever the language binding sets.
 */
export abstract class ScriptSocket {
  abstract readonly kind: SocketKind;
  /** Set by the binding: the socket is closed for good, its script object may go. */
  onGone: (() => void) | null = null;

  constructor(
    readonly registry: ScriptSockets,
    readonly owner: App | null,
  ) {
    registry.add(this);
  }

  /** What logs call it ("TCP connection 127.0.0.1:5555"). */
  abstract describe(): string;

  /** A live field scripts read (`connected`, `address`...); undefined when unknown or not set. */
  abstract field(key: string): unknown;

  /** Closes it at once, firing no script event. */
  protected abstract shutdown(): void;

  /** The owner stops: closed, forgotten, its script object released. */
  dispose(): void {
    this.shutdown();
    this.forget();
  }

  protected forget(): void {
    this.registry.delete(this);
    const gone = this.onGone;
    this.onGone = null;
    gone?.();
  }

  /** A script event failed: logged with the script's message (Lua: its file:line), returned for the script. */
  protected failed(hook: string, err: unknown, consequence: string): string {
    const message = errorMessage(err);
    const app = this.owner === null ? '' : `app ${this.owner.label}: `;
    const then = consequence === '' ? '' : ` (${consequence})`;
    // A limit breach already names the app, the hook and the limit.
    log.error(err instanceof ScriptError && err.limit !== null ? `${message}: ${this.describe()}${then}` : `${app}${this.describe()} ${hook}: ${message}${then}`);
    return message;
  }

  /** A socket-level problem (bind failure, send error): a warning naming the app and the socket. */
  protected warn(message: string): void {
    log.warn(`${this.owner === null ? '' : `app ${this.owner.label}: `}${this.describe()}: ${message}`);
  }
}

/**
 * The sockets of one script runtime, by app. `bufferMax` (application.socketBuffer) bounds what a
 * TCP connection keeps: bytes received that onData did not consume, bytes queued to send.
 */
export class ScriptSockets {
  private readonly open = new Set<ScriptSocket>();
  /**
   * How a JS event (onData, onConnection, onPacket, onDisconnection) is run: a runner that watches
   * its scripts' time (a JS apps' worker marking its work) wraps it here. Lua events go through
   * LuaRuntime's hook calls, under application.timeout, instead.
   */
  dispatch: <T>(event: () => T) => T = (event) => event();

  constructor(readonly bufferMax: number) {}

  add(socket: ScriptSocket): void {
    this.open.add(socket);
  }

  delete(socket: ScriptSocket): void {
    this.open.delete(socket);
  }

  /** The sockets `app` owns (all of them for null). */
  of(app: App | null): ScriptSocket[] {
    return [...this.open].filter((s) => app === null || s.owner === app);
  }

  /** Closes every socket `app` opened (its main file changed, it was removed, the server stops). */
  closeApp(app: App): void {
    for (const socket of this.of(app)) {
      socket.dispose();
    }
  }

  closeAll(): void {
    for (const socket of this.of(null)) {
      socket.dispose();
    }
  }
}

/**
 * The app a socket made by code of `app` belongs to: the nearest one with a main file (an empty
 * folder runs its parent's code, and that parent's reload is what ends the code's sockets).
 */
export const socketOwner = (app: App | null): App | null => {
  if (app === null) {
    return null;
  }
  for (const a of app.lineage()) {
    if (a.kind !== 'none') {
      return a;
    }
  }
  return app;
};
