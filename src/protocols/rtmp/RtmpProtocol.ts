import { type Server, type Socket, createServer } from 'node:net';
import type { Core } from '../../core/Core.js';
import { Logger } from '../../util/Logger.js';
import type { Protocol } from '../Protocol.js';
import { RtmpSession, type RtmpSessionOptions } from './RtmpSession.js';

export interface RtmpProtocolOptions extends RtmpSessionOptions {
  host: string;
  port: number;
  maxConnections: number;
}

const TICK_MS = 1000;

/** The RTMP listener: accepts TCP connections, owns the sessions, drives them with one shared tick. */
export class RtmpProtocol implements Protocol {
  readonly name = 'RTMP';
  private readonly log = new Logger('rtmp');
  private readonly sessions = new Set<RtmpSession>();
  /** Every open socket, including those of sessions closing gracefully: stop() destroys them all. */
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: Core,
    private readonly options: RtmpProtocolOptions,
  ) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  async start(): Promise<string[]> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error(`listener error: ${err.message}`));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    const address = server.address();
    const where = typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : String(address);
    return [`${where}/tcp`];
  }

  /** The port actually bound (useful with port 0 in tests). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.options.maxConnections > 0 && this.sessions.size >= this.options.maxConnections) {
      this.log.warn(`${socket.remoteAddress}:${socket.remotePort}: refused, RTMP.maxConnections (${this.options.maxConnections}) reached`);
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, this.core, this.options, this.log, (s) => this.sessions.delete(s));
    this.sessions.add(session);
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions) {
      session.tick(now);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const session of [...this.sessions]) {
      session.close('server stopping');
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
    const server = this.server;
    this.server = null;
    if (server !== null) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
