import type { Socket } from 'node:dgram';
import {
  type Kernels, type PacketBatch, type PacketKey, RTMFP_CONTENT_OFFSET, RTMFP_MAX_DATAGRAM, RTMFP_OPTIONS_ROOM, type SocketIo, UDP_ADDRESS_ENTRY_SIZE,
  type UdpHandle, encodeUdpAddress, udpHandleOf,
} from '../../kernels/index.js';
import type { Logger } from '../../util/Logger.js';
import type { RtmfpAddress } from './address.js';

/** Datagrams gathered before they must go out (slabs of ~300 KB: a keyframe to ~8 sessions). */
const BATCH_DATAGRAMS = 256;
/** Room for one packet in the plaintext slab: the largest datagram plus its padding. */
/** Room per datagram: the largest one, with RFC 7425 options (sequence number, tag). */
const SLOT = RTMFP_MAX_DATAGRAM + RTMFP_OPTIONS_ROOM;

/** Why a batch stopped being used, for the log and `stats`. */
export class DatagramBatchStats {
  /** Datagrams sent by sendmmsg. */
  batched = 0;
  /** Datagrams sent through dgram (no batching, libuv's queue busy, or the kernel's buffer full). */
  viaNode = 0;
  /** sendmmsg calls (one per `flush` with something to send). */
  flushes = 0;
}

/**
 * The send side of one RTMFP UDP socket: the packets of every session are gathered in one
 * plaintext slab, sealed together by one kernel call (`encryptPackets`: multi-buffer AES with the
 * native kernels) and sent by one native sendmmsg per event-loop turn (architecture.md §4 step
 * 4), instead of a Buffer, an encryption call and a `dgram.send` per datagram. Where that cannot work (no addon, not Linux, a destination the table cannot carry,
 * libuv still holding earlier sends for this socket, the kernel's send buffer full) the datagram
 * goes through `dgram` as before, so nothing is lost and the order per socket is kept.
 */
export class DatagramBatch {
  readonly stats = new DatagramBatchStats();
  private readonly handle: UdpHandle | null;
  private readonly batch: PacketBatch;
  /** One view per slot of the plaintext slab: packets are built there in place (`packetBuffer`). */
  private readonly views: Buffer[];
  private readonly slab: Buffer;
  private readonly offsets = new Uint32Array(BATCH_DATAGRAMS + 1);
  private readonly addresses: Buffer;
  private readonly destinations: RtmfpAddress[] = [];
  private readonly encoded = new WeakMap<RtmfpAddress, Buffer | null>();
  private count = 0;
  /** The destinations of `sendSealed`, encoded (grown as needed). */
  private sealedAddresses = Buffer.alloc(0);
  private scheduled = false;
  private readonly flushLater = (): void => {
    this.scheduled = false;
    try {
      this.flush();
    } catch (err) {
      // A kernel or socket call that threw: these datagrams are lost (as on a full socket), nothing else.
      this.count = 0;
      this.log.error(`sending a batch failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  constructor(
    private readonly socket: Socket,
    private readonly kernels: Kernels,
    private readonly io: SocketIo,
    private readonly log: Logger,
  ) {
    this.handle = io.batchedUdp ? udpHandleOf(socket) : null;
    if (io.batchedUdp && this.handle === null) {
      log.warn('batched UDP sends off: this Node does not expose the socket the expected way');
    }
    const slots = this.handle === null ? 0 : BATCH_DATAGRAMS;
    this.batch = {
      count: 0,
      keys: [],
      ssids: new Uint32Array(slots),
      packets: Buffer.allocUnsafe(slots * SLOT),
      starts: new Uint32Array(slots).map((_, i) => i * SLOT),
      ends: new Uint32Array(slots),
    };
    this.views = Array.from({ length: slots }, (_, i) => this.batch.packets.subarray(i * SLOT, (i + 1) * SLOT));
    this.slab = Buffer.allocUnsafe(slots * SLOT);
    this.addresses = Buffer.alloc(slots * UDP_ADDRESS_ENTRY_SIZE);
  }

  /**
   * The slot the next `sendPacket` fills: a packet built there (content from offset 6) is not
   * copied. Null when not batching. Only valid until the next `sendPacket` or `flush`.
   */
  packetBuffer(): Buffer | null {
    return this.handle === null ? null : this.views[this.count];
  }

  /** Whether packets are gathered for sendmmsg (false: each goes out through dgram at once). */
  get batching(): boolean {
    return this.handle !== null;
  }

  /**
   * Seals `packet[6, end)` with `key` and `ssid` (as Kernels.encryptPacket) and sends it to
   * `destination`: at the end of this turn with the others, or now through dgram. `packet` may
   * be reused as soon as this returns.
   */
  sendPacket(key: PacketKey, ssid: number, packet: Buffer, end: number, destination: RtmfpAddress): void {
    const entry = this.handle === null ? null : this.entryOf(destination);
    if (entry === null) {
      const datagram = Buffer.allocUnsafe(this.kernels.sealedLength(key, end));
      this.viaNode(datagram.subarray(0, this.kernels.encryptPacket(key, ssid, packet, end, datagram, 0)), destination);
      return;
    }
    const i = this.count;
    const batch = this.batch;
    const start = batch.starts[i];
    if (packet !== this.views[i]) {
      packet.copy(batch.packets, start + RTMFP_CONTENT_OFFSET, RTMFP_CONTENT_OFFSET, end);
    }
    batch.ends[i] = start + end;
    batch.keys[i] = key;
    batch.ssids[i] = ssid;
    entry.copy(this.addresses, i * UDP_ADDRESS_ENTRY_SIZE);
    this.destinations[i] = destination;
    this.count = i + 1;
    if (this.count === BATCH_DATAGRAMS) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Sends what is gathered (the data plane calls it at the end of each flush turn). */
  flush(): void {
    const count = this.count;
    if (count === 0 || this.handle === null) {
      return;
    }
    this.batch.count = count;
    this.kernels.encryptPackets(this.batch, this.slab, this.offsets);
    let sent = 0;
    // Datagrams libuv still holds would be overtaken: wait for them by sending through dgram too.
    if (this.handle.sendQueueCount() === 0) {
      this.stats.flushes++;
      sent = this.io.sendDatagrams(this.handle.fd, this.slab, this.offsets, this.addresses, count);
      if (sent < 0) {
        this.log.error(`sendmmsg failed (errno ${-sent}): sending through dgram`);
        sent = 0;
      }
      this.stats.batched += sent;
    }
    for (let i = sent; i < count; i++) {
      this.viaNode(Buffer.from(this.slab.subarray(this.offsets[i], this.offsets[i + 1])), this.destinations[i]);
    }
    // keys and destinations are overwritten by index next time (no array resizing per turn).
    this.count = 0;
  }

  /**
   * Sends datagrams sealed elsewhere (the fan-out's `encryptFanOut`): datagram `i` is
   * `data[offsets[i], offsets[i + 1])` for `destinations[i]`. What is gathered goes first; then
   * one sendmmsg, the rest (or everything without the addon) through dgram. `data` may be reused
   * as soon as this returns.
   */
  sendSealed(data: Buffer, offsets: Uint32Array, count: number, destinations: readonly RtmfpAddress[]): void {
    let sent = 0;
    if (this.handle !== null) {
      this.flush();
      if (this.sealedAddresses.length < count * UDP_ADDRESS_ENTRY_SIZE) {
        this.sealedAddresses = Buffer.alloc(Math.max(count, 64) * 2 * UDP_ADDRESS_ENTRY_SIZE);
      }
      let table = 0;
      while (table < count) {
        const entry = this.entryOf(destinations[table]);
        if (entry === null) {
          break;
        }
        entry.copy(this.sealedAddresses, table * UDP_ADDRESS_ENTRY_SIZE);
        table++;
      }
      if (table > 0 && this.handle.sendQueueCount() === 0) {
        this.stats.flushes++;
        sent = this.io.sendDatagrams(this.handle.fd, data, offsets, this.sealedAddresses, table);
        if (sent < 0) {
          this.log.error(`sendmmsg failed (errno ${-sent}): sending through dgram`);
          sent = 0;
        }
        this.stats.batched += sent;
      }
    }
    for (let i = sent; i < count; i++) {
      this.viaNode(Buffer.from(data.subarray(offsets[i], offsets[i + 1])), destinations[i]);
    }
  }

  private viaNode(datagram: Buffer, destination: RtmfpAddress): void {
    this.stats.viaNode++;
    this.socket.send(datagram, destination.port, destination.host);
  }

  /** The address table entry of `destination` (addresses are immutable objects: cached by identity). */
  private entryOf(destination: RtmfpAddress): Buffer | null {
    let entry = this.encoded.get(destination);
    if (entry === undefined) {
      entry = Buffer.allocUnsafe(UDP_ADDRESS_ENTRY_SIZE);
      if (!encodeUdpAddress(destination.host, destination.port, entry, 0) || !this.familyMatches(entry)) {
        entry = null;
      }
      this.encoded.set(destination, entry);
    }
    return entry;
  }

  /** An IPv4 destination on an IPv6 socket goes through dgram (which maps it), and the reverse fails there too. */
  private familyMatches(entry: Buffer): boolean {
    return (entry[0] === 6) === (this.socket.address().family === 'IPv6');
  }
}
