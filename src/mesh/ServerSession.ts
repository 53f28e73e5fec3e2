import { errorMessage } from '../errors.js';
import type { Logger } from '../util/Logger.js';
import type { MeshHandlers } from './Mesh.js';
import { appSyncPayload } from './meshControl.js';
import type { MeshServer } from './MeshServer.js';

/** Messages waiting for their hook before the link stops reading (TCP then slows the peer down). */
const PAUSE_AT = 1024;
const RESUME_AT = 64;

/**
 * The script side of one connected server, in order: `onServerConnection` first (messages that
 * arrive meanwhile wait, so a handler it defines sees the peer's first message), then each
 * message's `server:<handler>(...)` one after the other, then `onServerDisconnection`. Hooks may
 * be asynchronous (JS apps); order is what MonaServer's single thread gave.
 */
export class ServerSession {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private paused = false;
  private readonly unknown = new Set<string>();

  constructor(
    readonly server: MeshServer,
    private readonly handlers: MeshHandlers,
    private readonly log: Logger,
  ) {}

  private enqueue(step: () => Promise<void> | void): Promise<void> {
    this.pending++;
    if (this.pending >= PAUSE_AT && !this.paused) {
      this.paused = true;
      this.server.link.socket.pause();
    }
    this.chain = this.chain
      .then(step)
      .catch((err: unknown) => this.log.error(`server ${this.server.address}: ${errorMessage(err)}`))
      .finally(() => {
        this.pending--;
        if (this.paused && this.pending <= RESUME_AT) {
          this.paused = false;
          this.server.link.socket.resume();
        }
      });
    return this.chain;
  }

  /** `onServerConnection` (an error rejects the server with its message), then the "." list of running apps. */
  open(runningApps: () => readonly string[]): void {
    const server = this.server;
    void this.enqueue(async () => {
      try {
        await this.handlers.onServerConnection(server);
      } catch (err) {
        if (!server.isClosed) {
          this.log.warn(`server ${server.address} rejected: ${errorMessage(err)}`);
          server.reject(errorMessage(err));
        }
        return;
      }
      if (!server.isClosed) {
        server.link.send('.', appSyncPayload(runningApps()));
      }
    });
  }

  message(handler: string, args: readonly unknown[]): void {
    void this.enqueue(async () => {
      const handled = await this.handlers.onServerMessage(this.server, handler, args);
      if (!handled && !this.unknown.has(handler)) {
        // MonaServer dropped these silently; once per handler and server is enough to notice a typo.
        this.unknown.add(handler);
        this.log.debug(`server ${this.server.address}: no script defines server:${handler}(), message dropped`);
      }
    });
  }

  syncApps(paths: readonly string[]): void {
    void this.enqueue(() => this.handlers.syncApps(paths));
  }

  /** After what is queued: `onServerDisconnection(server, error)`. */
  close(error?: string): Promise<void> {
    return this.enqueue(() => this.handlers.onServerDisconnection(this.server, error));
  }

  /** Resolves when everything queued so far ran. */
  settled(): Promise<void> {
    return this.chain;
  }
}
