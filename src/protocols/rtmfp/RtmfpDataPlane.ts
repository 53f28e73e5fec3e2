import { randomBytes } from 'node:crypto';
import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { type Kernels, type PacketKey, loadSocketIo } from '../../kernels/index.js';
import { DatagramBatch } from './DatagramBatch.js';
import { DatagramDrain } from './DatagramDrain.js';
import type { Logger } from '../../util/Logger.js';
import { literalLookup } from '../../util/ipLiteral.js';
import { AddressOrigin, type RtmfpAddress } from './address.js';
import type { ComputeKeys } from './crypto/computeKeys.js';
import { type StartupDecision, type KeyingDecision, type PeerDecision, RtmfpHandshake, type UrlDecision } from './RtmfpHandshake.js';
import { causeOf, errorMessage, sessionEnd } from '../../errors.js';
import { readSessionId } from './RtmfpPacket.js';
import { RtmfpFanOut } from './RtmfpFanOut.js';
import { RtmfpSession, type RtmfpSessionHost, type RtmfpSessionSettings } from './RtmfpSession.js';
import type { SessionEvents } from './SessionLink.js';
import type { WireContext } from '../WireContext.js';

/** Who handles what a data plane cannot decide alone (the main thread's protocol, or a worker's link to it). */
export interface DataPlaneControl {
  /** A session finished its handshake: the control half that will hear its events. */
  onSessionOpened(session: RtmfpSession): SessionEvents;
  /** An IHello naming a peer (rendezvous). */
  onPeerHello(decision: PeerDecision, host: string, port: number): void;
  /** An IHello with a URL, when `urlDecisions` is on (the onHandshake hook). */
  onUrlHello(decision: UrlDecision, host: string, port: number): void;
}

export interface DataPlaneOptions extends RtmfpSessionSettings {
  host: string;
  port: number;
  maxSessions: number;
  maxHandshakesPerAddress: number;
  /** Ask the control side about URL IHellos (only when an onHandshake hook exists). */
  urlDecisions: boolean;
  /** High byte of every session ID of this plane (0 on the main thread, worker index + 1 in workers). */
  sidPrefix: number;
  computeKeys?: ComputeKeys;
}

/** Counters for logs, tests and benchmarks. */
export class DataPlaneStats {
  datagrams = 0;
  tooShort = 0;
  unknownSession = 0;
  sessionsOpened = 0;
  refusedFull = 0;
  /** Handshakes that ended on an error (logged). */
  handshakeErrors = 0;
}

const TICK_MS = 50;
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Time one flush turn may take before it yields to the event loop, so that the acks and requests
 * waiting on the socket are read between the batches of a large fan-out (a keyframe to hundreds
 * of sessions) instead of overflowing the receive buffer.
 */
const FLUSH_BUDGET_MS = 4;


/**
 * One UDP socket and the RTMFP sessions on it, end to end (architecture.md §2): the startup
 * responder, session lookup by ID, one coarse tick for all sessions, and one flush per event-loop
 * turn for the sessions written to. Runs on the main thread (`RTMFP.workers = 0`) or in a media worker.
 */
export class RtmfpDataPlane implements RtmfpSessionHost {
  readonly stats = new DataPlaneStats();
  readonly sessions = new Map<number, RtmfpSession>();
  readonly handshake: RtmfpHandshake;
  private socket: Socket | null = null;
  private batch: DatagramBatch | null = null;
  private drain: DatagramDrain | null = null;
  private readonly onDrained = (datagram: Buffer, host: string, port: number, opened?: number, ssid?: number): void =>
    this.onDatagram(datagram, host, port, opened, ssid);
  private readonly keyOf = (ssid: number): PacketKey | null => {
    const session = this.sessions.get(ssid);
    return session === undefined || session.closed ? null : session.keys.decryptKey;
  };
  private timer: NodeJS.Timeout | null = null;
  readonly fanOut: RtmfpFanOut;
  private readonly dirty = new Set<RtmfpSession>();
  private flushScheduled = false;

  constructor(
    readonly kernels: Kernels,
    readonly log: Logger,
    readonly options: DataPlaneOptions,
    private readonly control: DataPlaneControl,
    /** The packet-path state of the thread this plane runs on (one per thread, shared with its RTMP sessions). */
    readonly wire: WireContext,
  ) {
    this.handshake = new RtmfpHandshake({
      kernels,
      urlDecisions: options.urlDecisions,
      computeKeys: options.computeKeys,
      maxKeyingPerAddress: options.maxHandshakesPerAddress,
    });
    this.fanOut = new RtmfpFanOut(kernels, () => this.batch, () => options.mediaDeadlineMs, (err) => log.error(`fan-out failed: ${errorMessage(err)}`));
  }

  get settings(): RtmfpSessionSettings {
    return this.options;
  }

  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  async start(): Promise<{ address: string; port: number }> {
    const socket = createSocket({
      type: this.options.host.includes(':') ? 'udp6' : 'udp4',
      // Large buffers absorb a fan-out burst and the acks it provokes (the kernel caps them at
      // net.core.rmem_max / wmem_max; raise those on busy servers).
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
      // Every destination is an IP literal: skip dns.lookup on each datagram sent.
      lookup: literalLookup,
    });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.options.host, port: this.options.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.batch = new DatagramBatch(socket, this.kernels, loadSocketIo(), this.log);
    this.drain = new DatagramDrain(socket, loadSocketIo(), this.log, this.kernels, this.keyOf);
    socket.on('error', (err) => this.log.error(`socket error: ${err.message}`));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    return socket.address();
  }

  /** One datagram from dgram, then what else is queued, read in batches (DatagramDrain). */
  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.onDatagram(msg, rinfo.address, rinfo.port);
    this.drain?.drain(this.onDrained);
  }

  /**
   * `opened`: the session datagram was already opened in place by the drain (its plaintext
   * length), `openedSsid` its session ID read before (the bytes it is computed from are now plaintext).
   */
  private onDatagram(msg: Buffer, host: string, port: number, opened?: number, openedSsid?: number): void {
    this.stats.datagrams++;
    const ssid = openedSsid ?? readSessionId(msg, 0);
    if (ssid < 0 || msg.length < 20) {
      this.stats.tooShort++;
      return;
    }
    if (ssid !== 0) {
      const session = this.sessions.get(ssid);
      if (session === undefined) {
        this.stats.unknownSession++;
        return;
      }
      session.receive(msg, host, port, Date.now(), opened);
      return;
    }
    this.handshake.receive(msg, host, port).then(
      (decision) => this.onDecision(decision, host, port),
      (err: unknown) => this.handshakeFailed(err, host, port),
    );
  }

  /** A handshake failure (a bug, a failing DH task) ends that handshake, never the process. */
  private handshakeFailed(err: unknown, host: string, port: number): void {
    this.stats.handshakeErrors++;
    this.log.error(`${host}:${port}: handshake failed: ${errorMessage(err)}`);
  }

  private onDecision(decision: StartupDecision | null, host: string, port: number): void {
    try {
      this.act(decision, host, port);
    } catch (err) {
      this.handshakeFailed(err, host, port);
    }
  }

  private act(decision: StartupDecision | null, host: string, port: number): void {
    switch (decision?.kind) {
      case 'rhello':
      case 'rikeying': {
        this.sendTo(decision.datagram, host, port);
        return;
      }
      case 'keying': {
        this.openSession(decision, host, port);
        return;
      }
      case 'peer': {
        this.control.onPeerHello(decision, host, port);
        return;
      }
      case 'url': {
        this.control.onUrlHello(decision, host, port);
        return;
      }
      default: {
        return;
      }
    }
  }

  private openSession(decision: KeyingDecision, host: string, port: number): void {
    if (this.options.maxSessions > 0 && this.sessions.size >= this.options.maxSessions) {
      this.stats.refusedFull++;
      return;
    }
    let ssid = 0;
    while (ssid === 0 || this.sessions.has(ssid)) {
      ssid = ((this.options.sidPrefix << 24) | (randomBytes(3).readUIntBE(0, 3) || 1)) >>> 0;
    }
    const address: RtmfpAddress = { host, port, origin: AddressOrigin.OBSERVED };
    const session = new RtmfpSession(
      this,
      {
        localSsid: ssid,
        farSsid: decision.initiatorSsid,
        encryptKey: this.kernels.createPacketKey(decision.encryptKey, decision.options.encrypt),
        decryptKey: this.kernels.createPacketKey(decision.decryptKey, decision.options.decrypt),
        peerId: decision.peerId,
        packetOptions: decision.options.encrypt.hmacKey !== undefined || decision.options.encrypt.sequenceNumbers === true,
      },
      address,
      Date.now(),
    );
    this.sessions.set(ssid, session);
    this.stats.sessionsOpened++;
    session.events = this.control.onSessionOpened(session);
    this.sendTo(decision.respond(ssid), host, port);
  }

  // RtmfpSessionHost

  sendPacket(session: RtmfpSession, packet: Buffer, end: number): void {
    this.batch?.sendPacket(session.keys.encryptKey, session.keys.farSsid, packet, end, session.address);
  }

  packetBuffer(): Buffer | null {
    return this.batch?.packetBuffer() ?? null;
  }

  /** Datagrams batched vs sent through dgram (benchmarks, tests). */
  get sendStats(): { batched: number; viaNode: number; flushes: number } | null {
    return this.batch?.stats ?? null;
  }

  /** Datagrams read by recvmmsg (benchmarks, tests). */
  get receiveStats(): { drained: number; reads: number; truncated: number } | null {
    return this.drain?.stats ?? null;
  }

  sendTo(datagram: Buffer, host: string, port: number): void {
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
    const started = Date.now();
    for (const session of this.dirty) {
      this.dirty.delete(session);
      this.guard(session, () => session.output.flush(Date.now(), false));
      if (Date.now() - started >= FLUSH_BUDGET_MS && this.dirty.size > 0) {
        // The rest goes out on the next turn, after the socket's pending reads.
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flushDirty());
        }
        break;
      }
    }
    this.flushBatch();
  }

  /**
   * Runs a session's packet work from a timer or a turn's flush: a failure there (a crypto or
   * socket error) closes that session, never the process.
   */
  private guard(session: RtmfpSession, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.log.error(`${session.label}: session failed: ${errorMessage(err)}`);
      try {
        session.close(causeOf(err), false);
      } catch {
        session.drop(`error: ${errorMessage(err)}`, false);
      }
    }
  }

  /** Sends what the turn gathered; a failure of the batch itself is logged (its datagrams are lost, as on a full socket). */
  private flushBatch(): void {
    try {
      this.batch?.flush();
    } catch (err) {
      this.log.error(`sending a batch failed: ${errorMessage(err)}`);
    }
  }

  onClosed(session: RtmfpSession): void {
    this.sessions.delete(session.keys.localSsid);
    this.dirty.delete(session);
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      this.guard(session, () => session.tick(now));
    }
    this.flushBatch();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const session of [...this.sessions.values()]) {
      session.close(sessionEnd('MS_ERR_SERVER_STOPPING', 'server stopping'), false);
      this.onClosed(session);
    }
    this.batch?.flush();
    this.batch = null;
    this.drain = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  }
}
