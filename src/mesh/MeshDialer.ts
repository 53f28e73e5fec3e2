import { type Socket, connect } from 'node:net';
import type { MeshTarget } from '../config/targets.js';
import type { Logger } from '../util/Logger.js';

/** First wait before trying a target again; it doubles up to `servers.retryMax`. */
export const FIRST_RETRY_MS = 1000;
/** A link that stayed up this long was healthy: the next attempt starts the back-off over. */
const HEALTHY_MS = 10_000;

/**
 * One `servers.targets` entry: dials it, and after a failure or a lost link dials again with
 * back-off (1 s, 2 s, 4 s... up to `servers.retryMax`). MonaServer retried every 16 s from the
 * start; here an instance that restarts is joined again within a second or two. Host names are
 * resolved at each attempt. Driven by the mesh's coarse tick (no timer of its own).
 */
export class MeshDialer {
  /** The connection in progress or up (the mesh owns the link built on it). */
  private socket: Socket | null = null;
  private nextAttempt = 0;
  private delay = 0;
  private connectedAt = 0;
  attempts = 0;
  private stopped = false;

  constructor(
    readonly target: MeshTarget,
    private readonly retryMaxMs: number,
    /** A TCP connection to the target is up: the mesh starts a link on it. */
    private readonly onConnected: (socket: Socket, dialer: MeshDialer) => void,
    private readonly log: Logger,
  ) {}

  get busy(): boolean {
    return this.socket !== null;
  }

  tick(now: number): void {
    if (this.stopped || this.socket !== null || now < this.nextAttempt) {
      return;
    }
    this.attempts++;
    this.log.info(`Attempt to join ${this.target.address} server`);
    const socket = connect({ host: this.target.host, port: this.target.port });
    this.socket = socket;
    const failed = (err: Error): void => {
      this.log.info(`cannot join ${this.target.address} server: ${err.message}`);
      this.socket = null;
      this.schedule(false);
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.off('error', failed);
      this.connectedAt = Date.now();
      this.onConnected(socket, this);
    });
  }

  /** The link on our socket closed (`ready`: it had finished HELLO). */
  linkClosed(ready: boolean): void {
    this.socket = null;
    this.schedule(ready && Date.now() - this.connectedAt >= HEALTHY_MS);
  }

  private schedule(healthy: boolean): void {
    if (this.stopped) {
      return;
    }
    this.delay = healthy || this.delay === 0 ? Math.min(FIRST_RETRY_MS, this.retryMaxMs) : Math.min(this.delay * 2, this.retryMaxMs);
    this.nextAttempt = Date.now() + this.delay;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
    this.socket = null;
  }
}
