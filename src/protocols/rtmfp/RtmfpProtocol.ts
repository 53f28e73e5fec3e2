import { randomBytes } from 'node:crypto';
import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import type { Core } from '../../core/Core.js';
import { errorMessage } from '../../errors.js';
import type { Kernels } from '../../kernels/Kernels.js';
import { loadKernels } from '../../kernels/index.js';
import { Logger } from '../../util/Logger.js';
import type { Protocol } from '../Protocol.js';
import { AddressOrigin, type RtmfpAddress, formatAddress, parseHostPort } from './address.js';
import { parseRtmfpUrl } from './epd.js';
import type { RtmfpRecvFlow } from './flows/RtmfpRecvFlow.js';
import { writeForwardedIHello } from './handshakeChunks.js';
import { RtmfpGroups } from './RtmfpGroups.js';
import { type KeyingDecision, type PeerDecision, RtmfpHandshake, type UrlDecision } from './RtmfpHandshake.js';
import { CHUNK_HEADER_SIZE, readSessionId } from './RtmfpPacket.js';
import { RtmfpSession, type RtmfpSessionHost, type RtmfpSessionSettings } from './RtmfpSession.js';

export interface RtmfpProtocolOptions extends RtmfpSessionSettings {
  host: string;
  port: number;
  /** Address given to clients in redirections ("host" or "host:port"); default: the URL's host, else the bound address. */
  publicAddress: string;
  maxSessions: number;
}

const TICK_MS = 50;
/** IHello tags remembered to count attempts for onHandshake (bounded, expiring). */
const MAX_TAGS = 10_000;
const TAG_TTL_MS = 60_000;

/** Counters for logs, tests and benchmarks. */
export class RtmfpProtocolStats {
  datagrams = 0;
  tooShort = 0;
  unknownSession = 0;
  sessionsOpened = 0;
  refusedFull = 0;
}

/**
 * RTMFP on one UDP socket (workers = 0): the startup responder, the sessions keyed by their ID,
 * rendezvous between peers, handshake redirection through `onHandshake`, and NetGroups. One
 * coarse tick drives every session; sessions written to during a turn are flushed once at its end.
 */
export class RtmfpProtocol implements Protocol, RtmfpSessionHost {
  readonly name = 'RTMFP';
  readonly log = new Logger('rtmfp');
  readonly kernels: Kernels;
  readonly stats = new RtmfpProtocolStats();
  readonly sessions = new Map<number, RtmfpSession>();
  /** Sessions that finished connect + setPeerInfo, by 64-hex peer ID. */
  readonly peers = new Map<string, RtmfpSession>();
  readonly handshake: RtmfpHandshake;
  readonly groups: RtmfpGroups;
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly dirty = new Set<RtmfpSession>();
  private flushScheduled = false;
  private readonly tagAttempts = new Map<string, { count: number; at: number }>();

  constructor(
    readonly core: Core,
    readonly options: RtmfpProtocolOptions,
  ) {
    this.kernels = loadKernels();
    this.handshake = new RtmfpHandshake({ kernels: this.kernels, urlDecisions: core.hooks.onHandshake !== undefined });
    this.groups = new RtmfpGroups(this);
  }

  get settings(): RtmfpSessionSettings {
    return this.options;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get port(): number {
    const address = this.socket?.address();
    return address === undefined ? 0 : address.port;
  }

  async start(): Promise<string[]> {
    const socket = createSocket({ type: this.options.host.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.options.host, port: this.options.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.log.error(`socket error: ${err.message}`));
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    const address = socket.address();
    return [`${address.address}:${address.port}/udp`];
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.datagrams++;
    const ssid = readSessionId(msg, 0);
    if (ssid < 0 || msg.length < 20) {
      this.stats.tooShort++;
      return;
    }
    if (ssid === 0) {
      void this.handshake.receive(msg, rinfo.address, rinfo.port).then((decision) => {
        if (decision === null) {
          return;
        }
        switch (decision.kind) {
          case 'rhello':
          case 'rikeying': {
            this.sendTo(decision.datagram, rinfo.address, rinfo.port);
            return;
          }
          case 'keying': {
            this.openSession(decision, rinfo);
            return;
          }
          case 'peer': {
            this.rendezvous(decision, rinfo);
            return;
          }
          case 'url': {
            this.onUrlHello(decision, rinfo).catch((err: unknown) => this.log.error(`onHandshake failed: ${errorMessage(err)}`));
            return;
          }
        }
      });
      return;
    }
    const session = this.sessions.get(ssid);
    if (session === undefined) {
      this.stats.unknownSession++;
      return;
    }
    session.receive(msg, rinfo.address, rinfo.port, Date.now());
  }

  private openSession(decision: KeyingDecision, rinfo: RemoteInfo): void {
    if (this.options.maxSessions > 0 && this.sessions.size >= this.options.maxSessions) {
      this.stats.refusedFull++;
      return;
    }
    let ssid = 0;
    while (ssid === 0 || this.sessions.has(ssid)) {
      ssid = randomBytes(4).readUInt32BE(0);
    }
    const session = new RtmfpSession(
      this,
      {
        localSsid: ssid,
        farSsid: decision.initiatorSsid,
        encryptKey: this.kernels.createPacketKey(decision.encryptKey),
        decryptKey: this.kernels.createPacketKey(decision.decryptKey),
        peerId: decision.peerId,
      },
      { host: rinfo.address, port: rinfo.port, origin: AddressOrigin.OBSERVED },
      Date.now(),
    );
    this.sessions.set(ssid, session);
    this.stats.sessionsOpened++;
    this.sendTo(decision.respond(ssid), rinfo.address, rinfo.port);
    this.log.debug(`${session.client.address}: RTMFP session ${ssid.toString(16)} opened, peer ${session.peerIdHex}`);
  }

  /** P2P introduction (rtmfp.md §4.1): Redirect to the initiator, FIHello to the target. */
  private rendezvous(decision: PeerDecision, rinfo: RemoteInfo): void {
    const target = this.peers.get(decision.peerId.toString('hex'));
    if (target !== undefined && !target.closed) {
      this.sendTo(this.handshake.redirect(decision.tag, target.addresses), rinfo.address, rinfo.port);
      const chunk = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + 8 + decision.epd.length + 19 + decision.tag.length);
      const reply = { host: rinfo.address, port: rinfo.port, origin: AddressOrigin.OBSERVED };
      const end = writeForwardedIHello(chunk, 0, decision.epd, reply, decision.tag);
      if (end > 0) {
        target.output.queueChunk(chunk.subarray(0, end));
      }
      this.schedule(target);
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
          this.sendTo(this.handshake.redirect(decision.tag, addresses), rinfo.address, rinfo.port);
        }
      })
      .catch((err: unknown) => this.log.error(`onRendezVousUnknown failed: ${errorMessage(err)}`));
  }

  /** Handshake redirection (rtmfp.md §4.2): the hook's addresses → Redirect, none → RHello. */
  private async onUrlHello(decision: UrlDecision, rinfo: RemoteInfo): Promise<void> {
    const url = parseRtmfpUrl(decision.url);
    const tagKey = decision.tag.toString('hex');
    const now = Date.now();
    let entry = this.tagAttempts.get(tagKey);
    if (entry === undefined || now - entry.at > TAG_TTL_MS) {
      if (this.tagAttempts.size >= MAX_TAGS) {
        this.tagAttempts.clear();
      }
      entry = { count: 0, at: now };
      this.tagAttempts.set(tagKey, entry);
    }
    entry.count++;
    const hooks = this.core.hooks;
    let answers: readonly string[] = [];
    if (hooks.onHandshake !== undefined) {
      answers = await hooks.onHandshake({
        protocol: 'RTMFP',
        address: formatAddress({ host: rinfo.address, port: rinfo.port }),
        path: url.path,
        properties: url.properties,
        attempts: entry.count,
      });
    }
    const reached = url.host === '' ? null : { host: url.host, port: url.port };
    let addresses = this.resolveAddresses(answers, reached);
    // A redirection to this server alone would send the client back here forever: answer it.
    const self = this.selfAddress(reached);
    if (addresses.every((a) => formatAddress(a) === self)) {
      addresses = [];
    }
    this.sendTo(
      addresses.length > 0 ? this.handshake.redirect(decision.tag, addresses) : this.handshake.rhello(decision.tag, rinfo.address, rinfo.port),
      rinfo.address,
      rinfo.port,
    );
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
    if (this.options.publicAddress !== '') {
      return this.options.publicAddress.includes(':') ? this.options.publicAddress : `${this.options.publicAddress}:${this.port}`;
    }
    if (reached !== null) {
      return `${reached.host}:${reached.port === 0 ? this.port : reached.port}`;
    }
    const host = this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host;
    return formatAddress({ host, port: this.port });
  }

  // RtmfpSessionHost

  send(datagram: Buffer, address: RtmfpAddress): void {
    this.sendTo(datagram, address.host, address.port);
  }

  private sendTo(datagram: Buffer, host: string, port: number): void {
    this.socket?.send(datagram, port, host);
  }

  schedule(session: RtmfpSession): void {
    this.dirty.add(session);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushDirty());
    }
  }

  private flushDirty(): void {
    this.flushScheduled = false;
    const now = Date.now();
    const sessions = [...this.dirty];
    this.dirty.clear();
    for (const session of sessions) {
      session.output.flush(now, false);
    }
  }

  onClosed(session: RtmfpSession): void {
    this.sessions.delete(session.keys.localSsid);
    if (this.peers.get(session.peerIdHex) === session) {
      this.peers.delete(session.peerIdHex);
    }
    this.dirty.delete(session);
  }

  onRendezvousReady(session: RtmfpSession): void {
    this.peers.set(session.peerIdHex, session);
  }

  onGroupMessage(session: RtmfpSession, flow: RtmfpRecvFlow, message: Buffer): void {
    this.groups.onMessage(session, flow, message);
  }

  onGroupFlowClosed(session: RtmfpSession, flow: RtmfpRecvFlow): void {
    this.groups.onFlowClosed(session, flow);
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      session.tick(now);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const session of [...this.sessions.values()]) {
      session.close('server stopping');
      this.onClosed(session);
    }
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  }
}
