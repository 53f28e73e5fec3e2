import { createHash } from 'node:crypto';
import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { encodeAmf0 } from '../amf/index.js';
import { type Kernels, rtmfpDatagramLength } from '../kernels/Kernels.js';
import { WireContext } from '../protocols/WireContext.js';
import { decodeUdpHost, loadKernels } from '../kernels/index.js';
import { AddressOrigin, type RtmfpAddress } from '../protocols/rtmfp/address.js';
import { epdForPeerId, epdForUrl } from '../protocols/rtmfp/epd.js';
import type { RtmfpSendFlow } from '../protocols/rtmfp/flows/RtmfpSendFlow.js';
import type { ForwardedIHelloChunk } from '../protocols/rtmfp/handshakeChunks.js';
import { RtmfpHandshake } from '../protocols/rtmfp/RtmfpHandshake.js';
import { Mode, readSessionId } from '../protocols/rtmfp/RtmfpPacket.js';
import { GROUP_METADATA, TcType, encodeTcMessage, tcMetadata } from '../protocols/rtmfp/tcMessage.js';
import { Logger } from '../util/Logger.js';
import { FlashClient, type RtmpStatus } from './FlashClient.js';
import { type InitiatorResult, RtmfpIdentity, RtmfpInitiator } from './rtmfp/RtmfpInitiator.js';
import { type ClientSessionEvents, type ClientSessionOptions, RtmfpClientSession } from './rtmfp/RtmfpClientSession.js';
import { RtmfpClientSocket, type SharedSocketMember, sameEncodedAddress } from './rtmfp/RtmfpClientSocket.js';

export interface RtmfpClientOptions {
  /** Called for every audio/video/data message received (light mode: no event per frame). */
  onMedia?: (type: number, timestamp: number, payload: Buffer, streamId: number) => void;
  /** Local address to bind (default 127.0.0.1 for loopback tests; use 0.0.0.0 otherwise). */
  bindHost?: string;
  /**
   * Light mode (load generators): share this UDP socket with other clients instead of opening one
   * (datagrams are told apart by session ID, read and sent in batches; see RtmfpClientSocket).
   * No P2P and no `rebind` then. `bindHost` is the socket's.
   */
  socket?: RtmfpClientSocket;
  /** Light mode: acknowledge in-order data on the delayed-ack timer (ClientSessionOptions.delayedAcks). */
  delayedAcks?: boolean;
  /** Require RFC 7425 HMAC and session sequence numbers from the server, as rtmfp-cpp does by default. */
  requirePacketOptions?: boolean;
}

const log = new Logger('rtmfp-client');
const TICK_MS = 50;

/**
 * An RTMFP client (initiator) for tests, benchmarks and users: handshake (following Redirects),
 * NetConnection connect and calls, publish and play, P2P to a peer ID through the server's
 * rendezvous, and NetGroup join. Statuses arrive as 'status' events (streamId, info), server
 * invocations as 'invoke', group introductions as 'groupMember' (peer ID hex), P2P messages as
 * 'peerMessage' (peer ID hex, Buffer). One UDP socket per client; hundreds fit in one process.
 */
export class RtmfpClient extends FlashClient implements ClientSessionEvents {
  readonly identity = new RtmfpIdentity();
  readonly kernels: Kernels = loadKernels();
  private socket: Socket | null = null;
  session: RtmfpClientSession | null = null;
  private initiators = new Set<RtmfpInitiator>();
  /** P2P sessions by peer address ("host:port"). */
  private readonly peerSessions = new Map<string, RtmfpClientSession>();
  private readonly peerIds = new Map<RtmfpClientSession, string>();
  /** Answers peers that introduce themselves through the server (FIHello → RHello...). */
  private responder: RtmfpHandshake | null = null;
  private readonly streamFlows = new Map<number, RtmfpSendFlow>();
  private timer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private readonly dirty = new Set<RtmfpClientSession>();
  /** Light mode: the shared socket, our membership of it, and the server's address encoded for its batches. */
  private readonly shared: RtmfpClientSocket | null;
  private member: SharedSocketMember | null = null;
  private sessionEntry: Buffer | null = null;
  /** UDP datagram bytes this client sent and received (handshakes, the server session, P2P). */
  readonly traffic = { sent: 0, received: 0 };

  /** The packet-path state of all our sessions (the shared socket's, in light mode). */
  private readonly wire: WireContext;

  constructor(private readonly options: RtmfpClientOptions = {}) {
    super();
    this.shared = options.socket ?? null;
    this.wire = this.shared?.wire ?? new WireContext();
  }

  /** Our peer ID (hex), as the server and other peers know us. */
  get peerId(): string {
    return this.identity.peerId.toString('hex');
  }

  /** Local UDP port. */
  get port(): number {
    if (this.shared !== null) {
      return this.shared.port;
    }
    return this.socket?.address().port ?? 0;
  }

  private async open(): Promise<void> {
    if (this.shared !== null) {
      this.openShared(this.shared);
      return;
    }
    if (this.socket !== null) {
      return;
    }
    const host = this.options.bindHost ?? '127.0.0.1';
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    socket.on('error', (err) => log.debug(`socket error: ${err.message}`));
    this.timer = setInterval(() => this.tick(Date.now()), TICK_MS);
    this.timer.unref();
  }

  /** Joins the shared socket (once): datagrams with our session ID, and startup ones while we handshake. */
  private openShared(shared: RtmfpClientSocket): void {
    if (this.member !== null) {
      return;
    }
    if (this.closed) {
      throw new Error('client closed');
    }
    const member: SharedSocketMember = {
      ssid: this.identity.ssid,
      handshaking: () => this.initiators.size > 0,
      onSessionDatagram: (datagram, entry, offset, now) => this.onSharedDatagram(datagram, entry, offset, now),
      onStartupDatagram: (datagram, from) => this.offerStartup(datagram, from),
      tick: (now) => this.tick(now),
      flush: (now) => this.flushDirty(now),
    };
    shared.attach(member);
    this.member = member;
  }

  private onSharedDatagram(datagram: Buffer, entry: Buffer, offset: number, now: number): void {
    this.traffic.received += datagram.length;
    if (this.initiators.size > 0) {
      // The RIKeying carries our session ID.
      const from: RtmfpAddress = { host: decodeUdpHost(entry, offset), port: entry.readUInt16BE(offset + 2), origin: AddressOrigin.OBSERVED };
      if (this.offerStartup(datagram, from)) {
        return;
      }
    }
    const session = this.session;
    if (session !== null && this.sessionEntry !== null && sameEncodedAddress(entry, offset, this.sessionEntry)) {
      session.receive(datagram, now);
    }
  }

  private offerStartup(datagram: Buffer, from: RtmfpAddress): boolean {
    for (const initiator of this.initiators) {
      if (initiator.receive(datagram, from)) {
        return true;
      }
    }
    return false;
  }

  /** Options of our sessions with the server: light mode's acks and shared socket. */
  private sessionOptions(): ClientSessionOptions {
    const shared = this.shared;
    return {
      wire: this.wire,
      delayedAcks: this.options.delayedAcks === true,
      packetSink:
        shared === null
          ? undefined
          : (session, packet, end) => {
              this.traffic.sent += rtmfpDatagramLength(end);
              shared.sendPacket(this.kernels, session.keys.encryptKey, session.keys.farSsid, packet, end, session.address, this.sessionEntry);
            },
    };
  }

  /**
   * Moves to a new local UDP port, keeping every session (what a device changing networks does):
   * the server must recognise the session by its ID and follow the new address.
   */
  async rebind(): Promise<void> {
    if (this.shared !== null) {
      throw new Error('rebind: not available on a shared socket');
    }
    const old = this.socket;
    this.socket = null;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    await this.open();
    old?.close();
  }

  private send(datagram: Buffer, address: RtmfpAddress): void {
    this.traffic.sent += datagram.length;
    if (this.shared !== null) {
      if (!this.closed) {
        this.shared.send(datagram, address);
      }
      return;
    }
    this.socket?.send(datagram, address.port, address.host);
  }

  /** Handshake with `first` for `epd`; resolves with the session keys. */
  private handshake(epd: Buffer, first: RtmfpAddress): Promise<InitiatorResult> {
    return new Promise((resolve, reject) => {
      const done = (result: InitiatorResult | Error): void => {
        this.initiators.delete(initiator);
        if (result instanceof Error) {
          reject(result);
        } else {
          resolve(result);
        }
      };
      const send = (d: Buffer, a: RtmfpAddress): void => this.send(d, a);
      const initiator = new RtmfpInitiator(this.kernels, this.identity, epd, first, send, done, 8, this.options.requirePacketOptions === true);
      this.initiators.add(initiator);
      initiator.start();
    });
  }

  /**
   * Handshake, NetConnection `connect`, then `setPeerInfo` with our address. Resolves with the
   * `_result` info; rejects with an RtmpCallError (Connect.Rejected...) or a handshake error.
   */
  async connect(url: string, commandExtra: Record<string, unknown> = {}, ...args: unknown[]): Promise<RtmpStatus> {
    const u = new URL(url);
    await this.open();
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port === '' ? 1935 : Number(u.port);
    const result = await this.handshake(epdForUrl(url), { host, port, origin: AddressOrigin.UNKNOWN });
    if (this.shared !== null) {
      this.sessionEntry = RtmfpClientSocket.encodeAddress(result.address);
    }
    const session = new RtmfpClientSession(this.kernels, log, result, result.address, (d, a) => this.send(d, a), this, Mode.INITIATOR, this.sessionOptions());
    this.session = session;
    this.streamFlows.set(0, session.openFlow(tcMetadata(0)));
    const app = u.pathname.replace(/^\//, '') + u.search;
    const [info] = await this.netConnect({
      app,
      flashVer: 'WIN 11,7,700,202',
      tcUrl: url,
      fpad: false,
      capabilities: 235,
      audioCodecs: 3575,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 3,
      ...commandExtra,
    }, args);
    this.sendCommand(0, 'setPeerInfo', 0, null, [`127.0.0.1:${this.port}`]);
    return (info ?? {}) as RtmpStatus;
  }

  protected sendCommand(streamId: number, name: string, transaction: number, commandObject: unknown, args: unknown[]): void {
    const flow = this.streamFlows.get(streamId);
    if (flow === undefined || this.session === null) {
      throw new Error(`no flow for stream ${streamId}`);
    }
    const body = Buffer.concat([Buffer.alloc(1), encodeAmf0(name, transaction, commandObject, ...args)]);
    flow.write(encodeTcMessage(TcType.COMMAND_AMF3, 0, body), true, Date.now());
    this.requestFlush(this.session);
  }

  protected override onStreamCreated(streamId: number): void {
    this.streamFlows.set(streamId, this.session!.openFlow(tcMetadata(streamId)));
  }

  /** Publisher side: one media message (8 audio, 9 video, 18 data) on `streamId`. */
  writeMedia(streamId: number, type: number, timestamp: number, payload: Buffer): void {
    const flow = this.streamFlows.get(streamId);
    if (flow === undefined || this.session === null) {
      return;
    }
    flow.write(encodeTcMessage(type, timestamp, payload), type === TcType.DATA_AMF0, Date.now(), 2000);
    this.requestFlush(this.session);
  }

  /** Joins a NetGroup by its 32-byte ID (or a groupspec text, hashed as Flash does for kind 0x10). */
  joinGroup(group: Buffer | string): void {
    if (this.session === null) {
      throw new Error('not connected');
    }
    const id = typeof group === 'string' ? createHash('sha256').update(group).digest() : group;
    const flow = this.session.openFlow(GROUP_METADATA, this.streamFlows.get(0)!.id);
    flow.write(Buffer.concat([Buffer.from([0x01, 0x21, 0x15]), id]), true, Date.now());
    this.requestFlush(this.session);
  }

  /**
   * P2P: asks the server's rendezvous for `peerIdHex`, handshakes with the address that answers
   * first, and opens a data flow to it. Resolves once the P2P session exists.
   */
  async connectToPeer(peerIdHex: string): Promise<void> {
    if (this.session === null) {
      throw new Error('not connected');
    }
    if (this.shared !== null) {
      throw new Error('connectToPeer: no P2P on a shared socket');
    }
    const result = await this.handshake(epdForPeerId(Buffer.from(peerIdHex, 'hex')), this.session.address);
    const session = new RtmfpClientSession(this.kernels, log, result, result.address, (d, a) => this.send(d, a), this, Mode.INITIATOR, { wire: this.wire });
    this.peerSessions.set(`${result.address.host}:${result.address.port}`, session);
    this.peerIds.set(session, peerIdHex);
    session.openFlow(Buffer.from('P2P', 'latin1'));
  }

  /** Sends a message to a connected peer on our P2P data flow. */
  sendToPeer(peerIdHex: string, message: Buffer): void {
    for (const [session, id] of this.peerIds) {
      if (id === peerIdHex) {
        session.mainFlow()?.write(message, true, Date.now());
        this.requestFlush(session);
        return;
      }
    }
    throw new Error(`no P2P session with ${peerIdHex}`);
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    this.traffic.received += msg.length;
    const ssid = readSessionId(msg, 0);
    if (ssid < 0) {
      return;
    }
    const from: RtmfpAddress = { host: rinfo.address, port: rinfo.port, origin: AddressOrigin.OBSERVED };
    if (ssid === 0 || ssid === this.identity.ssid) {
      for (const initiator of this.initiators) {
        if (initiator.receive(Buffer.from(msg), from)) {
          return;
        }
      }
      if (ssid === 0) {
        this.onPeerStartup(msg, from);
        return;
      }
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    const session = this.peerSessions.get(key) ?? (this.session !== null && key === `${this.session.address.host}:${this.session.address.port}` ? this.session : undefined);
    session?.receive(msg, Date.now());
  }

  private get peerResponder(): RtmfpHandshake {
    this.responder ??= new RtmfpHandshake({ kernels: this.kernels, certificate: this.identity.certificate, staticPrivateKey: this.identity.privateKey });
    return this.responder;
  }

  /** The server forwards a peer's IHello (rendezvous): answer the peer directly with an RHello. */
  onForwardedHello(_session: RtmfpClientSession, hello: ForwardedIHelloChunk): void {
    const to = hello.replyAddress;
    this.emit('forwardedHello', `${to.host}:${to.port}`);
    this.send(this.peerResponder.rhello(hello.tag, to.host, to.port), to);
  }

  /** A peer handshaking with us (we are the responder of a P2P session). */
  private onPeerStartup(msg: Buffer, from: RtmfpAddress): void {
    this.peerResponder.receive(msg, from.host, from.port).then((decision) => {
      if (decision === null) {
        return;
      }
      if (decision.kind === 'rhello' || decision.kind === 'rikeying') {
        this.send(decision.datagram, from);
      } else if (decision.kind === 'keying') {
        const session = new RtmfpClientSession(
          this.kernels,
          log,
          {
            farSsid: decision.initiatorSsid,
            encryptKey: this.kernels.createPacketKey(decision.encryptKey, decision.options.encrypt),
            decryptKey: this.kernels.createPacketKey(decision.decryptKey, decision.options.decrypt),
          },
          from,
          (d, a) => this.send(d, a),
          this,
          Mode.RESPONDER,
          { wire: this.wire },
        );
        this.peerSessions.set(`${from.host}:${from.port}`, session);
        this.peerIds.set(session, decision.peerId.toString('hex'));
        session.openFlow(Buffer.from('P2P', 'latin1'));
        this.send(decision.respond(this.identity.ssid), from);
        this.emit('peerConnected', decision.peerId.toString('hex'));
      }
        }).catch((err: unknown) => log.error(`peer ${from.host}:${from.port}: handshake failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  // ClientSessionEvents

  onCommand(session: RtmfpClientSession, streamId: number, values: unknown[]): void {
    this.onCommandValues(streamId, values, session === this.session ? null : this.peerIds.get(session));
  }

  onMedia(_session: RtmfpClientSession, streamId: number, type: number, timestamp: number, payload: Buffer): void {
    this.options.onMedia?.(type, timestamp, payload, streamId);
  }

  onUserControl(_session: RtmfpClientSession, streamId: number, event: number, data: Buffer): void {
    this.emit('userControl', event, data, streamId);
  }

  onRawMessage(session: RtmfpClientSession, metadata: Buffer, message: Buffer): void {
    if (session === this.session && metadata.equals(GROUP_METADATA)) {
      if (message.length === 33 && message[0] === 0x0b) {
        this.emit('groupMember', message.subarray(1).toString('hex'));
      }
      return;
    }
    const peer = this.peerIds.get(session);
    if (peer !== undefined) {
      this.emit('peerMessage', peer, message);
    }
  }

  /** 'flowMessage' (flowId, metadata, message): every message from the server, raw, with its flow. */
  onFlowMessage(session: RtmfpClientSession, flowId: number, metadata: Buffer, message: Buffer): void {
    if (session === this.session) {
      this.emit('flowMessage', flowId, metadata, message);
    }
  }

  /** 'flowEnd' (flowId): a flow of the server ended. */
  onFlowComplete(session: RtmfpClientSession, flowId: number): void {
    if (session === this.session) {
      this.emit('flowEnd', flowId);
    }
  }

  onClosed(session: RtmfpClientSession, reason: string): void {
    if (session === this.session) {
      this.shutdown(new Error(`session closed: ${reason}`));
    } else {
      this.peerSessions.delete(`${session.address.host}:${session.address.port}`);
      this.peerIds.delete(session);
    }
  }

  requestFlush(session: RtmfpClientSession): void {
    this.dirty.add(session);
    if (this.member !== null) {
      this.shared!.requestFlush(this.member);
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushDirty(Date.now());
      });
    }
  }

  private flushDirty(now: number): void {
    for (const s of this.dirty) {
      s.output.flush(now, false);
    }
    this.dirty.clear();
  }

  private tick(now: number): void {
    this.session?.tick(now);
    for (const session of this.peerSessions.values()) {
      session.tick(now);
    }
  }

  private shutdown(err: Error | null): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.rejectCalls(err);
    for (const initiator of [...this.initiators]) {
      initiator.cancel();
    }
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    this.emit('close', err);
    if (this.member !== null) {
      // What we sent last (the close request) is already in the shared socket's batch.
      this.shared!.detach(this.member);
      this.member = null;
      return;
    }
    const socket = this.socket;
    this.socket = null;
    // Let the close request leave before the socket goes.
    setTimeout(() => socket?.close(), 20);
  }

  close(): void {
    if (this.closed) {
      return;
    }
    this.session?.close();
    for (const session of this.peerSessions.values()) {
      session.close();
    }
    this.shutdown(null);
  }

}
