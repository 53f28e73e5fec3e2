import type { Socket } from 'node:dgram';
import {
  type DecryptBatch, type Kernels, type PacketKey, type SocketIo, UDP_ADDRESS_ENTRY_SIZE, type UdpHandle, decodeUdpHost, udpHandleOf,
} from '../../kernels/index.js';
import type { Logger } from '../../util/Logger.js';
import { readSessionId } from './RtmfpPacket.js';

/** Datagrams read per recvmmsg call, and calls per drain (a burst of acks after a keyframe fan-out). */
const BATCH = 64;
const ROUNDS = 8;
/** Room per datagram: anything longer is not RTMFP (and is dropped as truncated). */
const SLOT = 2048;

/** Counters for benchmarks and tests. */
export class DrainStats {
  /** Datagrams read by recvmmsg (the rest came one by one through dgram). */
  drained = 0;
  /** recvmmsg calls that returned at least one datagram. */
  reads = 0;
  /** Datagrams longer than a slot, dropped. */
  truncated = 0;
}

/**
 * One datagram: `opened` is its plaintext length when it was already opened in place with its
 * session's key (Kernels.decryptPackets; negative: it did not open), undefined otherwise; then
 * `ssid` is its session ID (read before opening: the scrambled ID depends on the ciphertext).
 */
export type DatagramHandler = (datagram: Buffer, host: string, port: number, opened?: number, ssid?: number) => void;

/** The decryption key of a session by its ID, or null (unknown: handed over unopened). */
export type SessionKeyLookup = (ssid: number) => PacketKey | null;

/** Session datagrams shorter than this are left to the handler (which drops them). */
const MIN_SESSION_DATAGRAM = 20;

/**
 * The receive side's batching (architecture.md §4 step 1): when dgram delivers one datagram,
 * `drain` reads what else is already queued on the socket with one recvmmsg into a slab, instead
 * of a libuv read, a Buffer, an address object and a JS callback per datagram. Each datagram is
 * still handed over as its own Buffer (sessions may keep views of it). Without the native addon
 * `drain` does nothing and dgram delivers everything.
 */
export class DatagramDrain {
  readonly stats = new DrainStats();
  private readonly handle: UdpHandle | null;
  private readonly slab: Buffer;
  private readonly lengths = new Uint32Array(BATCH);
  private readonly addresses: Buffer;
  private failed = false;
  /** The datagrams of one read that belong to known sessions, opened in one kernel call. */
  private readonly opening: DecryptBatch;
  private readonly openedIndex = new Int32Array(BATCH);
  private readonly openedSsids = new Uint32Array(BATCH);
  private readonly results = new Int32Array(BATCH);

  /** `keyOf` (with `kernels`): session datagrams are opened in one `decryptPackets` call per read. */
  constructor(
    socket: Socket,
    private readonly io: SocketIo,
    private readonly log: Logger,
    private readonly kernels: Kernels | null = null,
    private readonly keyOf: SessionKeyLookup | null = null,
  ) {
    this.handle = io.batchedUdp ? udpHandleOf(socket) : null;
    this.slab = Buffer.allocUnsafe(this.handle === null ? 0 : BATCH * SLOT);
    this.addresses = Buffer.allocUnsafe(this.handle === null ? 0 : BATCH * UDP_ADDRESS_ENTRY_SIZE);
    this.opening = { count: 0, keys: [], datagrams: this.slab, starts: new Uint32Array(BATCH), ends: new Uint32Array(BATCH) };
  }

  /** Opens, in the slab, the datagrams of this read whose session is known. */
  private open(n: number): void {
    const keyOf = this.keyOf;
    const batch = this.opening;
    let k = 0;
    for (let i = 0; i < n; i++) {
      this.openedIndex[i] = -1;
      const length = this.lengths[i];
      if (keyOf === null || length < MIN_SESSION_DATAGRAM) {
        continue;
      }
      const at = i * SLOT;
      const ssid = readSessionId(this.slab, at);
      const key = ssid > 0 ? keyOf(ssid) : null;
      if (key === null) {
        continue;
      }
      this.openedSsids[k] = ssid;
      batch.keys[k] = key;
      batch.starts[k] = at;
      batch.ends[k] = at + length;
      this.openedIndex[i] = k;
      k++;
    }
    if (k > 0 && this.kernels !== null) {
      batch.count = k;
      this.kernels.decryptPackets(batch, this.results);
    }
  }

  /** Reads and hands over the datagrams queued on the socket now (a bounded number). */
  drain(handler: DatagramHandler): void {
    if (this.handle === null || this.failed) {
      return;
    }
    for (let round = 0; round < ROUNDS; round++) {
      const n = this.io.receiveDatagrams(this.handle.fd, this.slab, SLOT, BATCH, this.lengths, this.addresses);
      if (n < 0) {
        // The socket is unusable for recvmmsg (dgram keeps reading it): stop trying.
        this.failed = true;
        this.log.error(`recvmmsg failed (errno ${-n}): reading through dgram only`);
        return;
      }
      if (n === 0) {
        return;
      }
      this.stats.reads++;
      this.stats.drained += n;
      this.open(n);
      for (let i = 0; i < n; i++) {
        const length = this.lengths[i];
        if (length === 0) {
          this.stats.truncated++;
          continue;
        }
        const at = i * SLOT;
        const datagram = Buffer.allocUnsafe(length);
        this.slab.copy(datagram, 0, at, at + length);
        const entry = i * UDP_ADDRESS_ENTRY_SIZE;
        const k = this.openedIndex[i];
        const host = decodeUdpHost(this.addresses, entry);
        const port = this.addresses.readUInt16BE(entry + 2);
        if (k < 0) {
          handler(datagram, host, port);
        } else {
          handler(datagram, host, port, this.results[k], this.openedSsids[k]);
        }
      }
      if (n < BATCH) {
        return;
      }
    }
  }
}
