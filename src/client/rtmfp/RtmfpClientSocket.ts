import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import {
  type Kernels, type PacketKey, type SocketIo, type UdpHandle, UDP_ADDRESS_ENTRY_SIZE, decodeUdpHost, encodeUdpAddress, loadKernels, loadSocketIo, udpHandleOf,
} from '../../kernels/index.js';
import { RTMFP_MAX_DATAGRAM, RTMFP_OPTIONS_ROOM } from '../../kernels/Kernels.js';
import { WireContext } from '../../protocols/WireContext.js';
import { AddressOrigin, type RtmfpAddress } from '../../protocols/rtmfp/address.js';
import { readSessionId } from '../../protocols/rtmfp/RtmfpPacket.js';
import { Logger } from '../../util/Logger.js';
import { literalLookup } from '../../util/ipLiteral.js';

const log = new Logger('rtmfp-client');

/** What a client attached to a shared socket (RtmfpClient) does with it. */
export interface SharedSocketMember {
  /** The session ID the server puts in our datagrams (RtmfpIdentity.ssid): the demultiplexing key. */
  readonly ssid: number;
  /** A datagram with our session ID; `entry[offset...]` is its source (encodeUdpAddress form). */
  onSessionDatagram(datagram: Buffer, entry: Buffer, offset: number, now: number): void;
  /** A startup datagram (session ID 0: RHello, Redirect); true if one of our handshakes took it. */
  onStartupDatagram(datagram: Buffer, from: RtmfpAddress): boolean;
  /** Whether a handshake of ours is in progress (only those are offered startup datagrams). */
  handshaking(): boolean;
  /** The shared 50 ms tick (retransmissions, due acks). */
  tick(now: number): void;
  /** Sends what the member's sessions have ready (the shared once-per-turn flush). */
  flush(now: number): void;
}

export interface RtmfpClientSocketOptions {
  /** Local address to bind (default 127.0.0.1). */
  bindHost?: string;
  /** Receive and send buffer sizes asked of the kernel (default 4 MiB; capped by net.core.rmem_max / wmem_max). */
  bufferBytes?: number;
  kernels?: Kernels;
}

const TICK_MS = 50;
/** Datagrams per sendmmsg batch and per recvmmsg call; recvmmsg calls per wake-up. */
const BATCH = 128;
const ROUNDS = 8;
/** Room per received datagram (longer ones are not RTMFP and are dropped). */
const SLOT = 2048;
/** Room kept per datagram in the send batch (encryptPacket pads in place: a little more than the largest datagram). */
const SEND_SLOT = RTMFP_MAX_DATAGRAM + RTMFP_OPTIONS_ROOM;


/** Counters for benchmarks. */
export class ClientSocketStats {
  received = 0;
  /** Received through recvmmsg (the rest: one by one through dgram). */
  drained = 0;
  sent = 0;
  /** Sent through sendmmsg (the rest: through dgram). */
  batched = 0;
  /** Datagrams whose session ID no member has, or from an unexpected address. */
  unmatched = 0;
}

/**
 * One UDP socket shared by many light RtmfpClients (a load generator's subscribers), as a server
 * shares one socket among its sessions: the datagrams the server sends carry our session ID
 * (each client's RtmfpIdentity.ssid), by which they are handed to their client; startup datagrams
 * (session ID 0) go to the clients that are handshaking, which recognise their tag. With the
 * native addon, what is queued on the socket is read with recvmmsg and what the clients send in
 * one event-loop turn goes out with sendmmsg (src/kernels/SocketIo.ts); otherwise dgram does it
 * one datagram at a time. One 50 ms tick and one flush per turn serve every client.
 *
 * P2P sessions and `rebind` are not available to clients on a shared socket.
 */
export class RtmfpClientSocket {
  readonly stats = new ClientSocketStats();
  /** The packet-path state its clients' sessions share (they all run on this thread). */
  readonly wire = new WireContext();
  readonly kernels: Kernels;
  private readonly members = new Map<number, SharedSocketMember>();
  private readonly dirty = new Set<SharedSocketMember>();
  private flushScheduled = false;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly io: SocketIo;
  private handle: UdpHandle | null;
  // Receive batch (recvmmsg).
  private readonly recvSlab: Buffer;
  private readonly recvLengths = new Uint32Array(BATCH);
  private readonly recvAddresses: Buffer;
  /** The source of a datagram dgram delivered, encoded as recvmmsg gives it. */
  private readonly rinfoEntry = Buffer.alloc(UDP_ADDRESS_ENTRY_SIZE);
  // Send batch (sendmmsg).
  private readonly sendSlab: Buffer;
  private readonly sendOffsets = new Uint32Array(BATCH + 1);
  private readonly sendAddresses: Buffer;
  private sendCount = 0;
  private sendBytes = 0;
  private sendScheduled = false;

  private constructor(
    private readonly socket: Socket,
    options: RtmfpClientSocketOptions,
  ) {
    this.kernels = options.kernels ?? loadKernels();
    this.io = loadSocketIo();
    this.handle = this.io.batchedUdp ? udpHandleOf(socket) : null;
    const native = this.handle !== null;
    this.recvSlab = Buffer.allocUnsafe(native ? BATCH * SLOT : 0);
    this.recvAddresses = Buffer.allocUnsafe(native ? BATCH * UDP_ADDRESS_ENTRY_SIZE : 0);
    this.sendSlab = Buffer.allocUnsafe(native ? BATCH * SEND_SLOT : 0);
    this.sendAddresses = Buffer.alloc(native ? BATCH * UDP_ADDRESS_ENTRY_SIZE : 0);
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => log.debug(`shared socket error: ${err.message}`));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Binds a new shared socket. */
  static async open(options: RtmfpClientSocketOptions = {}): Promise<RtmfpClientSocket> {
    const host = options.bindHost ?? '127.0.0.1';
    const bytes = options.bufferBytes ?? 4 * 1024 * 1024;
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: bytes, sendBufferSize: bytes, lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RtmfpClientSocket(socket, options);
  }

  get port(): number {
    return this.closed ? 0 : this.socket.address().port;
  }

  /** Clients attached now. */
  get size(): number {
    return this.members.size;
  }

  /** Whether recvmmsg/sendmmsg are used (native addon on Linux). */
  get batched(): boolean {
    return this.handle !== null;
  }

  attach(member: SharedSocketMember): void {
    if (this.closed) {
      throw new Error('shared RTMFP socket closed');
    }
    const other = this.members.get(member.ssid);
    if (other !== undefined && other !== member) {
      throw new Error(`session ID ${member.ssid.toString(16)} already used on this shared socket`);
    }
    this.members.set(member.ssid, member);
  }

  detach(member: SharedSocketMember): void {
    if (this.members.get(member.ssid) === member) {
      this.members.delete(member.ssid);
    }
    this.dirty.delete(member);
  }

  /** Flush `member` on this turn's shared flush. */
  requestFlush(member: SharedSocketMember): void {
    this.dirty.add(member);
    this.scheduleSend();
  }

  /** Sends a ready datagram (handshake packets): batched with the rest of this turn. */
  send(datagram: Buffer, address: RtmfpAddress): void {
    if (this.closed) {
      return;
    }
    const slot = this.reserve(address.host, address.port, null, 0);
    if (slot < 0 || datagram.length > SEND_SLOT) {
      this.socket.send(datagram, address.port, address.host);
      this.stats.sent++;
      return;
    }
    datagram.copy(this.sendSlab, slot);
    this.commit(slot + datagram.length);
  }

  /**
   * Seals `packet[6, end)` with `key` for `farSsid` straight into the send batch (no Buffer per
   * packet) and queues it for `address` (`entry` = its encoded form, see `encodeAddress`).
   */
  sendPacket(kernels: Kernels, key: PacketKey, farSsid: number, packet: Buffer, end: number, address: RtmfpAddress, entry: Buffer | null): void {
    if (this.closed) {
      return;
    }
    const slot = this.reserve(address.host, address.port, entry, 0);
    if (slot < 0) {
      const datagram = Buffer.allocUnsafe(SEND_SLOT);
      const length = kernels.encryptPacket(key, farSsid, packet, end, datagram, 0);
      this.socket.send(datagram.subarray(0, length), address.port, address.host);
      this.stats.sent++;
      return;
    }
    const length = kernels.encryptPacket(key, farSsid, packet, end, this.sendSlab, slot);
    this.commit(slot + length);
  }

  /** `address` in the form the batches use (null when it cannot be: names, zoned IPv6). */
  static encodeAddress(address: RtmfpAddress): Buffer | null {
    const entry = Buffer.alloc(UDP_ADDRESS_ENTRY_SIZE);
    return encodeUdpAddress(address.host, address.port, entry, 0) ? entry : null;
  }

  /**
   * Where the next datagram of the send batch goes (its destination written), or -1: send it
   * through dgram. Datagrams are packed back to back: datagram i is [offsets[i], offsets[i + 1]).
   */
  private reserve(host: string, port: number, entry: Buffer | null, entryOffset: number): number {
    if (this.handle === null) {
      return -1;
    }
    if (this.sendCount === BATCH || this.sendBytes + SEND_SLOT > this.sendSlab.length) {
      this.flushSends();
    }
    const at = this.sendCount * UDP_ADDRESS_ENTRY_SIZE;
    if (entry !== null) {
      entry.copy(this.sendAddresses, at, entryOffset, entryOffset + UDP_ADDRESS_ENTRY_SIZE);
    } else if (!encodeUdpAddress(host, port, this.sendAddresses, at)) {
      return -1;
    }
    this.sendOffsets[this.sendCount] = this.sendBytes;
    return this.sendBytes;
  }

  private commit(end: number): void {
    this.sendOffsets[this.sendCount + 1] = end;
    this.sendBytes = end;
    this.sendCount++;
    this.scheduleSend();
  }

  private scheduleSend(): void {
    if (!this.sendScheduled) {
      this.sendScheduled = true;
      setImmediate(() => this.flushTurn());
    }
  }

  /** Once per turn: every dirty member flushes its sessions, then the batch goes out. */
  private flushTurn(): void {
    this.sendScheduled = false;
    if (this.dirty.size > 0) {
      const now = Date.now();
      for (const member of this.dirty) {
        this.dirty.delete(member);
        member.flush(now);
      }
    }
    this.flushSends();
  }

  private flushSends(): void {
    const count = this.sendCount;
    if (count === 0) {
      return;
    }
    this.sendCount = 0;
    this.sendBytes = 0;
    let sent = 0;
    if (this.handle !== null && !this.closed) {
      sent = this.sendBatch(count);
    }
    this.stats.batched += sent;
    this.stats.sent += count;
    // What the kernel did not take now goes through dgram (copied: the slab is reused).
    for (let i = sent; i < count; i++) {
      const entry = i * UDP_ADDRESS_ENTRY_SIZE;
      const datagram = Buffer.from(this.sendSlab.subarray(this.sendOffsets[i], this.sendOffsets[i + 1]));
      if (!this.closed) {
        this.socket.send(datagram, this.sendAddresses.readUInt16BE(entry + 2), decodeUdpHost(this.sendAddresses, entry));
      }
    }
  }

  private sendBatch(count: number): number {
    const n = this.io.sendDatagrams(this.handle!.fd, this.sendSlab, this.sendOffsets, this.sendAddresses, count);
    if (n < 0) {
      log.warn(`sendmmsg failed (errno ${-n}): sending through dgram only`);
      this.handle = null;
      return 0;
    }
    return n;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const now = Date.now();
    if (encodeUdpAddress(rinfo.address, rinfo.port, this.rinfoEntry, 0)) {
      this.dispatch(msg, this.rinfoEntry, 0, now);
    }
    this.drain(now);
  }

  /** Reads what else is queued on the socket (recvmmsg), a bounded number of times. */
  private drain(now: number): void {
    if (this.handle === null || this.closed) {
      return;
    }
    for (let round = 0; round < ROUNDS; round++) {
      const n = this.io.receiveDatagrams(this.handle.fd, this.recvSlab, SLOT, BATCH, this.recvLengths, this.recvAddresses);
      if (n <= 0) {
        if (n < 0) {
          log.warn(`recvmmsg failed (errno ${-n}): reading through dgram only`);
          this.handle = null;
        }
        return;
      }
      this.stats.drained += n;
      for (let i = 0; i < n; i++) {
        const length = this.recvLengths[i];
        if (length === 0) {
          continue;
        }
        // Each datagram gets its own memory: flows keep views of fragments until reassembled.
        const at = i * SLOT;
        const datagram = Buffer.allocUnsafe(length);
        this.recvSlab.copy(datagram, 0, at, at + length);
        this.dispatch(datagram, this.recvAddresses, i * UDP_ADDRESS_ENTRY_SIZE, now);
      }
      if (n < BATCH) {
        return;
      }
    }
  }

  private dispatch(datagram: Buffer, entry: Buffer, offset: number, now: number): void {
    this.stats.received++;
    const ssid = readSessionId(datagram, 0);
    if (ssid < 0) {
      return;
    }
    if (ssid !== 0) {
      const member = this.members.get(ssid);
      if (member === undefined) {
        this.stats.unmatched++;
        return;
      }
      member.onSessionDatagram(datagram, entry, offset, now);
      return;
    }
    const from: RtmfpAddress = { host: decodeUdpHost(entry, offset), port: entry.readUInt16BE(offset + 2), origin: AddressOrigin.OBSERVED };
    for (const member of this.members.values()) {
      if (member.handshaking() && member.onStartupDatagram(datagram, from)) {
        return;
      }
    }
    this.stats.unmatched++;
  }

  private tick(): void {
    const now = Date.now();
    for (const member of this.members.values()) {
      member.tick(now);
    }
    this.flushSends();
  }

  /** Closes the socket (after this turn's sends); members should be closed first. */
  close(): void {
    if (this.closed) {
      return;
    }
    clearInterval(this.timer);
    this.flushTurn();
    this.closed = true;
    this.members.clear();
    this.dirty.clear();
    const socket = this.socket;
    setTimeout(() => socket.close(), 20);
  }
}

/** Whether `entry[offset...]` (encodeUdpAddress form) is `address` (its encoded form `encoded`). */
export const sameEncodedAddress = (entry: Buffer, offset: number, encoded: Buffer): boolean => {
  // Family and port first, then the address bytes (4 for IPv4, 16 for IPv6).
  const length = encoded[0] === 4 ? 8 : UDP_ADDRESS_ENTRY_SIZE;
  for (let i = 0; i < length; i++) {
    if (entry[offset + i] !== encoded[i]) {
      return false;
    }
  }
  return true;
};
