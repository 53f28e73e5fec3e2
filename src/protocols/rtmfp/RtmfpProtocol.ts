import type { Core } from '../../core/Core.js';
import { errorFromCode, errorMessage, sessionEnd } from '../../errors.js';

const WORKER_STOPPED = sessionEnd('MS_ERR_WORKER_GONE', 'media worker stopped');
import type { Kernels } from '../../kernels/Kernels.js';
import { loadKernels } from '../../kernels/index.js';
import { Logger } from '../../util/Logger.js';
import type { Protocol } from '../Protocol.js';
import type { WireContext } from '../WireContext.js';
import { TRAFFIC_REPORT_MS, readTraffic } from '../SessionTraffic.js';
import { AddressOrigin, type RtmfpAddress, formatAddress, parseHostPort } from './address.js';
import { computeKeysSync } from './crypto/computeKeys.js';
import { KeyPool } from './crypto/KeyPool.js';
import { HandshakeAttempts } from './HandshakeAttempts.js';
import { parseRtmfpUrl } from './epd.js';
import { writeForwardedIHello } from './handshakeChunks.js';
import { type ControlHost, RtmfpControlSession } from './RtmfpControlSession.js';
import { type DataPlaneControl, type DataPlaneOptions, RtmfpDataPlane } from './RtmfpDataPlane.js';
import { RtmfpGroups } from './RtmfpGroups.js';
import type { PeerDecision, UrlDecision } from './RtmfpHandshake.js';
import { CHUNK_HEADER_SIZE } from './RtmfpPacket.js';
import type { RtmfpSession, RtmfpSessionSettings } from './RtmfpSession.js';
import type { SessionEvents } from './SessionLink.js';
import { type FromWorker, type MainRequests, type RequestHandlers, asBuffer, wireBytes } from '../worker/MediaChannel.js';
import { RemoteCommands, type WorkerHandle } from '../worker/MediaWorkerPool.js';
import type { MediaWorkers, WorkerProtocol } from '../worker/MediaWorkers.js';

export interface RtmfpProtocolOptions extends RtmfpSessionSettings {
  host: string;
  port: number;
  /** Address given to clients in redirections ("host" or "host:port"); default: the URL's host, else the bound address. */
  publicAddress: string;
  maxSessions: number;
  maxHandshakesPerAddress: number;
  /** Media worker threads; 0 runs everything on the main thread. */
  workers: number;
  /** First UDP port of the workers (worker i binds workerPort + i); 0 = any free port. */
  workerPort: number;
}


/**
 * RTMFP on the main thread: the control halves of every session (NetConnection/NetStream, hooks),
 * rendezvous between peers, handshake redirection through `onHandshake`, and NetGroups. With
 * `RTMFP.workers = 0` one local data plane owns the socket and the sessions' data halves.
 */
export class RtmfpProtocol implements Protocol, ControlHost, DataPlaneControl, WorkerProtocol {
  readonly name = 'RTMFP';
  readonly log = new Logger('rtmfp');
  readonly kernels: Kernels;
  /** Control halves by session ID. */
  readonly controls = new Map<number, RtmfpControlSession>();
  /** Sessions that finished connect + setPeerInfo, by 64-hex peer ID. */
  readonly peers = new Map<string, RtmfpControlSession>();
  readonly groups: RtmfpGroups;
  /** The main thread's socket: every session with no workers, the front door with workers. */
  readonly plane: RtmfpDataPlane;
  private readonly keyPool: KeyPool | null;
  readonly attempts = new HandshakeAttempts();
  private trafficTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly core: Core,
    readonly options: RtmfpProtocolOptions,
    /** The main thread's packet-path state (`Server.wire`), for the local data plane. */
    wire: WireContext,
    /** The media workers (shared with RTMP); the first `options.workers` have an RTMFP socket. */
    private readonly pool: MediaWorkers | null = null,
  ) {
    pool?.join(this);
    this.kernels = loadKernels();
    this.groups = new RtmfpGroups(this);
    // Handshake DH runs in a piscina pool off the main thread, for the front door and for the
    // media workers alike (a worker asks through its channel: its sessions never wait on a DH).
    this.keyPool = KeyPool.available ? new KeyPool(2) : null;
    this.plane = new RtmfpDataPlane(
      this.kernels,
      this.log,
      {
        ...options,
        // With workers every URL IHello is redirected to a worker, so the front door always decides.
        urlDecisions: options.workers > 0 || core.hooks.onHandshake !== undefined,
        sidPrefix: 0,
        ...(this.keyPool === null ? {} : { computeKeys: this.keyPool.computeKeys }),
      },
      this,
      wire,
    );
  }

  get keepaliveServerMs(): number {
    return this.options.keepaliveServerMs;
  }

  get keepalivePeerMs(): number {
    return this.options.keepalivePeerMs;
  }

  get sessionCount(): number {
    return this.controls.size;
  }

  /** The local plane's counters and handshake (tests, logs). */
  get stats(): RtmfpDataPlane['stats'] {
    return this.plane.stats;
  }

  get handshake(): RtmfpDataPlane['handshake'] {
    return this.plane.handshake;
  }

  get sessions(): Map<number, RtmfpSession> {
    return this.plane.sessions;
  }

  get port(): number {
    return this.plane.port;
  }

  /** The media workers that have an RTMFP socket (the front door redirects clients to them). */
  get workers(): WorkerHandle[] {
    return this.pool === null ? [] : this.pool.handles.filter((w) => w.index < this.options.workers && w.port > 0);
  }

  /** Worker i's RTMFP socket and sessions (null past RTMFP.workers). */
  workerPlane(index: number): Omit<DataPlaneOptions, 'computeKeys'> | null {
    if (index >= this.options.workers) {
      return null;
    }
    const first = this.options.workerPort;
    return { ...this.options, urlDecisions: false, port: first === 0 ? 0 : first + index, sidPrefix: index + 1 };
  }

  async start(): Promise<string[]> {
    const address = await this.plane.start();
    this.trafficTimer = setInterval(() => this.reportTraffic(), TRAFFIC_REPORT_MS);
    this.trafficTimer.unref();
    const listening = [`${address.address}:${address.port}/udp`];
    for (const worker of this.workers) {
      listening.push(`${address.address}:${worker.port}/udp (media worker ${worker.index})`);
    }
    return listening;
  }

  /**
   * The traffic of the sessions this thread serves into their clients (the data plane counts it;
   * media workers report theirs).
   */
  private reportTraffic(): void {
    for (const [sid, session] of this.plane.sessions) {
      const control = this.controls.get(sid);
      if (control !== undefined) {
        readTraffic(session, control.client.traffic);
      }
    }
  }

  /** What workers ask of the main thread. */
  readonly requests: RequestHandlers<MainRequests> = {
    computeKeys: async (args) => {
      const request = { groupId: args.groupId, clientPublicKey: asBuffer(args.clientPublicKey), skic: asBuffer(args.skic) };
      const keys = this.keyPool === null ? computeKeysSync(request) : await this.keyPool.computeKeys(request);
      return keys === null
        ? null
        : { skrc: wireBytes(keys.skrc), encryptKey: wireBytes(keys.encryptKey), decryptKey: wireBytes(keys.decryptKey), options: keys.options };
    },
  };

  /** A media worker died: its RTMFP sessions are gone, their control halves close (clients reconnect through the front door). */
  onWorkerGone(handle: WorkerHandle): void {
    const prefix = handle.index + 1;
    for (const control of [...this.controls.values()]) {
      if (control.sid >>> 24 === prefix) {
        control.onClosed(WORKER_STOPPED);
      }
    }
  }

  onWorkerMessage(handle: WorkerHandle, message: FromWorker): boolean {
    switch (message.op) {
      case 'opened': {
        const address = { host: message.host, port: message.port, origin: AddressOrigin.OBSERVED };
        const remote = new RemoteCommands(handle, message.sid);
        const control = new RtmfpControlSession(this, message.sid, asBuffer(message.peerId), address, remote);
        remote.traffic = control.client.traffic;
        this.controls.set(message.sid, control);
        handle.sessions++;
        return true;
      }
      case 'tc': {
        this.controls.get(message.sid)?.onTc(message.streamId, message.type, message.timestamp, asBuffer(message.body));
        return true;
      }
      case 'group': {
        this.controls.get(message.sid)?.onGroupMessage(message.flowId, asBuffer(message.message));
        return true;
      }
      case 'groupClosed': {
        this.controls.get(message.sid)?.onGroupFlowClosed(message.flowId);
        return true;
      }
      case 'address': {
        this.controls.get(message.sid)?.onAddressChanged(message.host, message.port);
        return true;
      }
      case 'closed': {
        handle.sessions = Math.max(0, handle.sessions - 1);
        this.controls.get(message.sid)?.onClosed(errorFromCode(message.code, message.message));
        handle.remotes.delete(message.sid);
        return true;
      }
      case 'peerHello': {
        const decision: PeerDecision = { kind: 'peer', peerId: asBuffer(message.peerId), tag: asBuffer(message.tag), epd: asBuffer(message.epd) };
        this.rendezvous(decision, message.host, message.port, (datagram) => {
          const bytes = wireBytes(datagram);
          handle.post({ op: 'sendStartup', datagram: bytes, host: message.host, port: message.port }, [bytes.buffer as ArrayBuffer]);
        });
        return true;
      }
      default: {
        return false;
      }
    }
  }

  /** With workers, a client the hook does not redirect goes to the least loaded worker. */
  private workerRedirect(decision: UrlDecision, reached: string, clientHost: string, clientPort: number): Buffer {
    if (this.workers.length === 0) {
      // Every worker is restarting: the front door serves this client itself.
      return this.plane.handshake.rhello(decision.tag, clientHost, clientPort);
    }
    let best = this.workers[0];
    for (const worker of this.workers) {
      if (worker.sessions < best.sessions) {
        best = worker;
      }
    }
    const host = parseHostPort(reached, 0, AddressOrigin.RELAY)?.host ?? '127.0.0.1';
    return this.plane.handshake.redirect(decision.tag, [{ host, port: best.port, origin: AddressOrigin.RELAY }]);
  }

  // DataPlaneControl (local plane)

  onSessionOpened(session: RtmfpSession): SessionEvents {
    const control = new RtmfpControlSession(this, session.keys.localSsid, session.keys.peerId, session.address, session);
    this.controls.set(control.sid, control);
    this.log.debug(`${control.client.address}: RTMFP session ${control.sid.toString(16)} opened, peer ${control.peerIdHex}`);
    return control;
  }

  onPeerHello(decision: PeerDecision, host: string, port: number): void {
    this.rendezvous(decision, host, port, (datagram) => this.plane.sendTo(datagram, host, port));
  }

  onUrlHello(decision: UrlDecision, host: string, port: number): void {
    const reply = (datagram: Buffer): void => this.plane.sendTo(datagram, host, port);
    const url = parseRtmfpUrl(decision.url);
    const fallback =
      this.workers.length > 0
        ? () => this.workerRedirect(decision, this.selfAddress(url.host === '' ? null : { host: url.host, port: url.port }), host, port)
        : undefined;
    this.answerUrlHello(decision, host, port, reply, fallback).catch((err: unknown) => this.log.error(`onHandshake failed: ${errorMessage(err)}`));
  }

  /** P2P introduction (rtmfp.md §4.1): Redirect to the initiator, FIHello to the target. */
  protected rendezvous(decision: PeerDecision, host: string, port: number, reply: (datagram: Buffer) => void): void {
    const target = this.peers.get(decision.peerId.toString('hex'));
    if (target !== undefined && !target.closed) {
      reply(this.plane.handshake.redirect(decision.tag, target.addresses));
      const chunk = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + 8 + decision.epd.length + 19 + decision.tag.length);
      const end = writeForwardedIHello(chunk, 0, decision.epd, { host, port, origin: AddressOrigin.OBSERVED }, decision.tag);
      if (end > 0) {
        target.commands.queueChunk(chunk.subarray(0, end));
      }
      return;
    }
    const hooks = this.core.hooks;
    if (hooks.onRendezVousUnknown === undefined) {
      return;
    }
    Promise.resolve(hooks.onRendezVousUnknown('RTMFP', decision.peerId))
      .then((answers) => {
        const addresses = this.resolveAddresses(answers, null);
        if (addresses.length > 0) {
          reply(this.plane.handshake.redirect(decision.tag, addresses));
        }
      })
      .catch((err: unknown) => this.log.error(`onRendezVousUnknown failed: ${errorMessage(err)}`));
  }

  /** Handshake redirection (rtmfp.md §4.2): the hook's addresses → Redirect, none → `fallback` (RHello here). */
  protected async answerUrlHello(
    decision: UrlDecision,
    host: string,
    port: number,
    reply: (datagram: Buffer) => void,
    fallback: (() => Buffer) | undefined = undefined,
  ): Promise<void> {
    const url = parseRtmfpUrl(decision.url);
    const attempts = this.attempts.count(host, decision.tag.toString('hex'));
    const hooks = this.core.hooks;
    let answers: readonly string[] = [];
    if (hooks.onHandshake !== undefined) {
      answers = await hooks.onHandshake({
        protocol: 'RTMFP',
        address: formatAddress({ host, port }),
        path: url.path,
        properties: url.properties,
        attempts,
      });
    }
    const reached = url.host === '' ? null : { host: url.host, port: url.port };
    let addresses = this.resolveAddresses(answers, reached);
    // A redirection to this server alone would send the client back here forever: answer it.
    const self = this.selfAddress(reached);
    if (addresses.every((a) => formatAddress(a) === self)) {
      addresses = [];
    }
    if (addresses.length > 0) {
      reply(this.plane.handshake.redirect(decision.tag, addresses));
    } else {
      reply(fallback === undefined ? this.plane.handshake.rhello(decision.tag, host, port) : fallback());
    }
  }

  /** Hook answers → addresses; "myself"/"again" is this server as the client reached it. */
  private resolveAddresses(answers: readonly string[], reached: { host: string; port: number } | null): RtmfpAddress[] {
    const out: RtmfpAddress[] = [];
    for (const answer of answers) {
      const lower = answer.toLowerCase();
      const text = lower === 'myself' || lower === 'again' ? this.selfAddress(reached) : answer;
      const address = parseHostPort(text, this.options.port === 0 ? this.port : this.options.port, AddressOrigin.RELAY);
      if (address === null) {
        this.log.warn(`redirection address "${answer}" is not host:port, skipped`);
        continue;
      }
      out.push(address);
    }
    return out;
  }

  private selfAddress(reached: { host: string; port: number } | null): string {
    const port = this.options.port === 0 ? this.port : this.options.port;
    if (this.options.publicAddress !== '') {
      return this.options.publicAddress.includes(':') ? this.options.publicAddress : `${this.options.publicAddress}:${port}`;
    }
    if (reached !== null) {
      return `${reached.host}:${reached.port === 0 ? port : reached.port}`;
    }
    const host = this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host;
    return formatAddress({ host, port });
  }

  // ControlHost

  onRendezvousReady(session: RtmfpControlSession): void {
    this.peers.set(session.peerIdHex, session);
  }

  onGroupMessage(session: RtmfpControlSession, flowId: number, message: Buffer): void {
    this.groups.onMessage(session, flowId, message);
  }

  onGroupFlowClosed(session: RtmfpControlSession, flowId: number): void {
    this.groups.onFlowClosed(session, flowId);
  }

  onControlClosed(session: RtmfpControlSession): void {
    this.controls.delete(session.sid);
    if (this.peers.get(session.peerIdHex) === session) {
      this.peers.delete(session.peerIdHex);
    }
  }

  async stop(): Promise<void> {
    if (this.trafficTimer !== null) {
      clearInterval(this.trafficTimer);
      this.trafficTimer = null;
    }
    for (const control of [...this.controls.values()]) {
      control.end(sessionEnd('MS_ERR_SERVER_STOPPING', 'server stopping'));
    }
    await this.plane.stop();
    await this.keyPool?.close();
  }
}
