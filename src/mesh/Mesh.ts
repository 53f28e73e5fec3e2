import { type Server as TcpServer, type Socket, createServer } from 'node:net';
import type { Config } from '../config/Config.js';
import { MeshError, errorMessage } from '../errors.js';
import { AddressLimits, ThrottledLog } from '../util/AddressLimits.js';
import { Logger } from '../util/Logger.js';
import { checkHandler } from './MeshCodec.js';
import { decodeArgs, encodeArgs } from './meshArgs.js';
import { appSyncPayload, readAppSync } from './meshControl.js';
import { MeshDialer } from './MeshDialer.js';
import { publicSettings } from './meshHello.js';
import { type LinkOwner, type LinkSettings, MeshLink, STOPPING } from './MeshLink.js';
import { MeshServer } from './MeshServer.js';
import { ServerSession } from './ServerSession.js';

/** Largest frame accepted from a peer (and sent: a bigger message is refused to the script). */
export const MAX_FRAME_BYTES = 32 * 1024 * 1024;

/**
 * What the mesh calls when servers come and go or send messages; Server.ts connects it to the
 * server applications (the mesh does not know scripts). A rejected promise or a throw from
 * `onServerConnection` rejects the server with the error's message.
 */
export interface MeshHandlers {
  onServerConnection(server: MeshServer): Promise<void> | void;
  onServerDisconnection(server: MeshServer, error?: string): Promise<void> | void;
  /** `server:<handler>(...)`; resolves false when no script defines the handler. */
  onServerMessage(server: MeshServer, handler: string, args: readonly unknown[]): Promise<boolean> | boolean;
  /** Paths of the applications running here (root = ""), for the "." message. */
  runningApps(): readonly string[];
  /** A peer runs these applications: load the ones this server has. */
  syncApps(paths: readonly string[]): Promise<void> | void;
}

const noHandlers: MeshHandlers = {
  onServerConnection: () => undefined,
  onServerDisconnection: () => undefined,
  onServerMessage: () => false,
  runningApps: () => [''],
  syncApps: () => undefined,
};

/** "ip:port" as MonaServer prints it (IPv4-mapped IPv6 shown as IPv4, IPv6 in brackets). */
const socketAddress = (socket: Socket): string => {
  const raw = socket.remoteAddress ?? '?';
  const host = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
  return host.includes(':') ? `[${host}]:${socket.remotePort ?? 0}` : `${host}:${socket.remotePort ?? 0}`;
};

/**
 * The server mesh (MonaServer's Servers, mona-api.md §2): a listener on `servers.port`, a dialer
 * per `servers.targets` entry, and the connected servers in connection order (MonaServer ordered
 * them by pointer value). It is the scripts' `mona.servers` (the ServerDirectory the AppHost is
 * given) and routes what links receive to the handlers, one message after the other per server.
 */
export class Mesh implements LinkOwner {
  readonly log = new Logger('servers');
  handlers: MeshHandlers = noHandlers;
  private readonly connected: MeshServer[] = [];
  private readonly sessions = new Map<MeshLink, ServerSession>();
  private readonly dialers: MeshDialer[];
  private readonly links = new Set<MeshLink>();
  private readonly dialerOf = new Map<MeshLink, MeshDialer>();
  private listener: TcpServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly hello: ReadonlyMap<string, string>;
  /** Incoming links per source address (servers.maxConnectionsPerAddress). */
  readonly perAddress: AddressLimits;
  private readonly refusals = new ThrottledLog((m) => this.log.warn(m));

  constructor(private readonly config: Config) {
    this.hello = publicSettings(config);
    this.perAddress = new AddressLimits(config.servers.maxConnectionsPerAddress);
    this.dialers = config.servers.targets.map((target) => new MeshDialer(target, config.servers.retryMaxMs, (socket, dialer) => this.dialed(socket, dialer), this.log));
  }

  get enabled(): boolean {
    return this.config.servers.port > 0 || this.dialers.length > 0;
  }

  // --- ServerDirectory (what scripts see) ------------------------------------------------------

  /** Connected servers, in connection order. */
  list(): readonly MeshServer[] {
    return this.connected;
  }

  /** `mona.servers:broadcast(handler, ...)`: encoded once, sent to each of `servers`. */
  broadcast(servers: readonly object[], handler: string, args: readonly unknown[]): void {
    checkHandler(handler);
    const payload = encodeArgs(args);
    for (const server of servers) {
      if (server instanceof MeshServer) {
        server.sendPayload(handler, payload);
      }
    }
  }

  /** Unsent bytes of the most loaded link (the scripts' media hooks skip frames past servers.queueBytes). */
  backlog(): number {
    let most = 0;
    for (const server of this.connected) {
      most = Math.max(most, server.link.queuedBytes);
    }
    return most;
  }

  /** An application started here: peers that have it load it too ("." message). */
  appStarted(path: string): void {
    const payload = appSyncPayload([path]);
    for (const server of this.connected) {
      server.link.send('.', payload);
    }
  }

  // --- lifecycle ---------------------------------------------------------------------------

  /** Starts the listener (if `servers.port`) and the dialers; resolves with the address listened on. */
  async start(): Promise<string[]> {
    const servers = this.config.servers;
    const tick = servers.heartbeatMs > 0 ? Math.max(50, Math.min(500, servers.heartbeatMs / 2)) : 500;
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
    const addresses: string[] = [];
    if (servers.port > 0) {
      const listener = createServer((socket) => this.accepted(socket));
      this.listener = listener;
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ host: servers.host, port: servers.port }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
      const errors = new ThrottledLog((m) => this.log.error(m));
      listener.on('error', (err) => errors.report(`listener: ${err.message}`));
      const address = listener.address();
      if (typeof address === 'object' && address !== null) {
        addresses.push(`${address.address}:${address.port}`);
        this.log.note(`Servers incoming connection on ${address.address}:${address.port} started`);
      }
    }
    this.tick();
    return addresses;
  }

  private tick(): void {
    const now = Date.now();
    for (const link of this.links) {
      link.tick(now);
    }
    for (const dialer of this.dialers) {
      dialer.tick(now);
    }
  }

  /** Every link is rejected with "Server is stopping", then `onServerDisconnection` runs for each. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const dialer of this.dialers) {
      dialer.stop();
    }
    for (const link of [...this.links]) {
      if (link.ready) {
        link.reject(STOPPING, new MeshError('MS_ERR_MESH_CLOSED', 'this server is stopping'));
      } else {
        link.close(null);
      }
    }
    await Promise.all([...this.sessions.values()].map((s) => s.settled()));
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  }

  // --- links -------------------------------------------------------------------------------

  private settings(hello: ReadonlyMap<string, string>): LinkSettings {
    const s = this.config.servers;
    return { hello, secret: s.secret, heartbeatMs: s.heartbeatMs, maxFrameSize: MAX_FRAME_BYTES };
  }

  private accepted(socket: Socket): void {
    const ip = socket.remoteAddress ?? '?';
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (!this.perAddress.acquire(ip)) {
      this.refusals.report(`${socketAddress(socket)}: refused, servers.maxConnectionsPerAddress (${this.perAddress.max}) reached for ${ip}`);
      socket.destroy();
      return;
    }
    socket.once('close', () => this.perAddress.release(ip));
    this.links.add(new MeshLink(socket, false, socketAddress(socket), this.settings(this.hello), this, this.log));
  }

  private dialed(socket: Socket, dialer: MeshDialer): void {
    // MonaServer also sent the target's query properties, so `?type=master` made the target see
    // its initiator as a master too; here they stay on the dialing side, where the seed uses them.
    const link = new MeshLink(socket, true, socketAddress(socket), this.settings(this.hello), this, this.log);
    this.links.add(link);
    this.dialerOf.set(link, dialer);
  }

  onLinkReady(link: MeshLink): void {
    const dialer = this.dialerOf.get(link);
    const server = new MeshServer(link, dialer?.target.properties ?? {});
    this.connected.push(server);
    this.log.note(`Connection established with ${server.address} server${dialer !== undefined && dialer.target.address !== server.address ? ` (${dialer.target.address})` : ''}`);
    const session = new ServerSession(server, this.handlers, this.log);
    this.sessions.set(link, session);
    session.open(() => this.handlers.runningApps());
  }

  onLinkMessage(link: MeshLink, handler: string, payload: Buffer): void {
    const session = this.sessions.get(link);
    if (session === undefined) {
      return;
    }
    if (handler === '.') {
      const paths = readAppSync(payload);
      if (paths instanceof MeshError) {
        link.close(paths);
        return;
      }
      session.syncApps(paths);
      return;
    }
    let args: unknown[];
    try {
      args = decodeArgs(payload);
    } catch (err) {
      this.log.error(`server ${link.address}: message "${handler}" has unreadable arguments (${errorMessage(err)}), dropped`);
      return;
    }
    session.message(handler, args);
  }

  onLinkClosed(link: MeshLink, error: MeshError | null): void {
    this.links.delete(link);
    const dialer = this.dialerOf.get(link);
    this.dialerOf.delete(link);
    const session = this.sessions.get(link);
    dialer?.linkClosed(session !== undefined);
    if (session === undefined) {
      // Never joined: a stray connection, garbage, a wrong secret, or a target that is not up yet.
      if (error !== null) {
        this.log.warn(`server ${link.address}: ${error.message}`);
      }
      return;
    }
    if (error === null || error.code === 'MS_ERR_MESH_CLOSED') {
      this.log.note(`Disconnection from ${link.address} server${error === null ? '' : `, ${error.message}`}`);
    } else {
      this.log.error(`Disconnection from ${link.address} server, ${error.message}`);
    }
    void session.close(error?.message).then(() => {
      this.sessions.delete(link);
      const i = this.connected.indexOf(session.server);
      if (i >= 0) {
        this.connected.splice(i, 1);
      }
    });
  }
}
