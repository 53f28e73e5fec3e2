import { type Server, type Socket, createServer } from 'node:net';
import type { Core } from '../../core/Core.js';
import { formatAddress } from '../../core/Client.js';
import { type SessionCause, sessionEnd } from '../../errors.js';
import { AddressLimits, ThrottledLog } from '../../util/AddressLimits.js';
import { Logger } from '../../util/Logger.js';

const STOPPING = sessionEnd('MS_ERR_SERVER_STOPPING', 'server stopping');
import type { Protocol } from '../Protocol.js';
import type { WireContext } from '../WireContext.js';
import { TRAFFIC_REPORT_MS, readTraffic } from '../SessionTraffic.js';
import { RtmpDataSession } from './RtmpDataSession.js';
import { RtmpSession, type RtmpSessionHost, type RtmpSessionOptions } from './RtmpSession.js';
import type { RtmpCommands } from './RtmpLink.js';

export interface RtmpProtocolOptions extends RtmpSessionOptions {
  host: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/**
 * Where a connected session's socket can go (the media workers, protocols/worker): it takes the
 * data half and returns the control half's new commands, or null when it stays here.
 */
export interface RtmpOffload {
  adopt(session: RtmpSession, data: RtmpDataSession): RtmpCommands | null;
}

/** One tick for timeouts, pings and the traffic of the data halves on this thread. */
const TICK_MS = TRAFFIC_REPORT_MS;
/** RTMP session IDs: high bit set, so they never meet RTMFP's (worker index + 1 in the high byte). */
const SID_BASE = 0x8000_0000;

/**
 * The RTMP listener: accepts TCP connections and runs their handshake and `connect` here (the
 * control plane), then hands each connected socket to a media worker when there are some
 * (`offload`); data halves still on this thread share one tick.
 */
export class RtmpProtocol implements Protocol, RtmpSessionHost {
  readonly name = 'RTMP';
  readonly log = new Logger('rtmp');
  /** Control halves by session ID. */
  readonly sessions = new Map<number, RtmpSession>();
  /** Data halves on this thread. */
  private readonly local = new Set<RtmpDataSession>();
  /** Every open socket, including those of sessions closing gracefully: stop() destroys them all. */
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nextSid = 1;
  offload: RtmpOffload | null = null;
  /** Sessions per source address (RTMP.maxConnectionsPerAddress). */
  readonly perAddress: AddressLimits;
  /** Refusals and listener errors (out of descriptors) come in floods: a line per second. */
  private readonly refusals = new ThrottledLog((m) => this.log.warn(m));
  private readonly listenerErrors = new ThrottledLog((m) => this.log.error(m));

  constructor(
    readonly core: Core,
    readonly options: RtmpProtocolOptions,
    /** The main thread's packet-path state (`Server.wire`): the write batch of the sessions served here. */
    readonly wire: WireContext,
  ) {
    wire.frames.mergeMs = options.mergeWriteMs;
    this.perAddress = new AddressLimits(options.maxConnectionsPerAddress);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Data halves served by this thread (the others are in media workers). */
  get localCount(): number {
    return this.local.size;
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
    // Accept failures (EMFILE when the process is out of descriptors) come once per refused
    // connection: logged once a second; the sessions already open are served meanwhile.
    server.on('error', (err) => this.listenerErrors.report(`listener error: ${err.message}`));
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

  private allocateSid(): number {
    let sid: number;
    do {
      sid = (SID_BASE | (this.nextSid++ & 0x7fff_ffff)) >>> 0;
    } while (this.sessions.has(sid));
    return sid;
  }

  private accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? '?';
    if (this.options.maxConnections > 0 && this.sessions.size >= this.options.maxConnections) {
      this.refusals.report(`${ip}:${socket.remotePort}: refused, RTMP.maxConnections (${this.options.maxConnections}) reached`);
      socket.destroy();
      return;
    }
    if (!this.perAddress.acquire(ip)) {
      this.refusals.report(`${ip}:${socket.remotePort}: refused, RTMP.maxConnectionsPerAddress (${this.options.maxConnectionsPerAddress}) reached for ${ip}`);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const address = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const sid = this.allocateSid();
    // The control half answers the data half's events; the data half is its first commands.
    let session: RtmpSession | null = null;
    const events = {
      onCommand: (streamId: number, type: number, payload: Buffer) => session?.onCommand(streamId, type, payload),
      onPing: (rtt: number) => session?.onPing(rtt),
      onClosed: (cause: SessionCause) => session?.onClosed(cause),
    };
    const data = new RtmpDataSession(socket, this.wire, this.options, this.log, address, events, (d) => this.local.delete(d));
    this.local.add(data);
    session = new RtmpSession(this, sid, address, ip, data);
    this.sessions.set(sid, session);
  }

  onConnected(session: RtmpSession): void {
    const offload = this.offload;
    const data = session.commands;
    if (offload === null || !(data instanceof RtmpDataSession)) {
      return;
    }
    const commands = offload.adopt(session, data);
    if (commands !== null) {
      // What this thread counted, until the worker's first report (which goes on from there).
      readTraffic(data, session.client.traffic);
      session.commands = commands;
    }
  }

  onSessionClosed(session: RtmpSession): void {
    if (this.sessions.delete(session.sid)) {
      this.perAddress.release(session.ip);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const data of this.local) {
      data.tick(now);
    }
    // Sessions served here: their clients' traffic from the sockets' counters (media workers
    // report theirs, RtmpOffload.ts).
    for (const session of this.sessions.values()) {
      const data = session.commands;
      if (data instanceof RtmpDataSession) {
        readTraffic(data, session.client.traffic);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const session of [...this.sessions.values()]) {
      session.end(STOPPING);
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
