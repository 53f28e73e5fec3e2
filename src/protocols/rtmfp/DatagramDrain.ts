import type { Socket } from 'node:dgram';
import { type SocketIo, UDP_ADDRESS_ENTRY_SIZE, type UdpHandle, decodeUdpHost, udpHandleOf } from '../../kernels/index.js';
import type { Logger } from '../../util/Logger.js';

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

export type DatagramHandler = (datagram: Buffer, host: string, port: number) => void;

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

  constructor(
    socket: Socket,
    private readonly io: SocketIo,
    private readonly log: Logger,
  ) {
    this.handle = io.batchedUdp ? udpHandleOf(socket) : null;
    this.slab = Buffer.allocUnsafe(this.handle === null ? 0 : BATCH * SLOT);
    this.addresses = Buffer.allocUnsafe(this.handle === null ? 0 : BATCH * UDP_ADDRESS_ENTRY_SIZE);
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
        handler(datagram, decodeUdpHost(this.addresses, entry), this.addresses.readUInt16BE(entry + 2));
      }
      if (n < BATCH) {
        return;
      }
    }
  }
}
