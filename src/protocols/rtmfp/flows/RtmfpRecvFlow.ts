/**
 * Receiving side of one RTMFP flow (RFC 7016 §3.6.3): reorders User Data fragments by sequence
 * number, honours the forward sequence number (everything ≤ FSN is delivered or abandoned),
 * reassembles fragmented messages, and describes what to acknowledge. Pure state: the session
 * feeds it parsed chunks and sends the acks it describes.
 */
import { UserDataFlag } from '../sessionChunks.js';
import { FragmentLoss } from './FragmentLoss.js';


interface Fragment {
  flags: number;
  data: Buffer;
}

export interface RecvFlowLimits {
  /** Largest reassembled message. */
  maxMessageBytes: number;
  /** Bytes held out of order or in reassembly. */
  maxBufferedBytes: number;
  /** How far ahead of the cumulative point a sequence number may be. */
  maxWindow: number;
}

export const defaultRecvLimits: RecvFlowLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxWindow: 65_536,
};

export class RtmfpRecvFlow {
  /** Every sequence number ≤ this was delivered or abandoned. */
  cumulative = 0;
  /** Sequence number carrying FIN, once seen. */
  finalSeq = -1;
  /**
   * Fragments above the cumulative point, waiting for the gap before them; made on the first
   * fragment that arrives out of order (in-order fragments are handled without it).
   */
  private pending: Map<number, Fragment> | null = null;
  private bufferedBytes = 0;
  private assembly: Buffer[] | null = null;
  private assemblyBytes = 0;
  /** Set when a limit was exceeded: the session rejects the flow. */
  failure: string | null = null;
  /** Data chunks received since the last ack was sent (acks go out after 2, RFC 7016 §3.6.3.4). */
  unacked = 0;

  constructor(
    readonly id: number,
    /** Flow metadata (e.g. `TC 04 00`), as received in the first chunk's options. */
    readonly metadata: Buffer,
    /** Flow ID of ours this flow answers (return association option), or -1. */
    readonly associatedFlowId: number,
    private readonly deliver: (message: Buffer) => void,
    private readonly limits: RecvFlowLimits = defaultRecvLimits,
    /** The session's fragment loss counts (Client.traffic.lostRate), shared by its flows. */
    private readonly loss: FragmentLoss = new FragmentLoss(),
  ) {}

  /** Bytes the receive buffer can still take, in 1024-byte blocks, for the ack. */
  get bufferBlocksAvailable(): number {
    return Math.max(0, Math.floor((this.limits.maxBufferedBytes - this.bufferedBytes) / 1024));
  }

  /** True once FIN arrived and everything up to it was handled. */
  get complete(): boolean {
    return this.finalSeq >= 0 && this.cumulative >= this.finalSeq;
  }

  /**
   * One User Data fragment. Returns true when the ack should go out at once (out of order,
   * duplicate), false when it may be delayed.
   */
  receive(seq: number, fsn: number, flags: number, data: Buffer): boolean {
    this.unacked++;
    if (this.failure !== null) {
      return true;
    }
    if ((flags & UserDataFlag.FINAL) !== 0) {
      this.finalSeq = seq;
    }
    const pending = this.pending;
    const waiting = pending !== null && pending.size > 0;
    const inOrder = seq === this.cumulative + 1;
    // The common case: the next fragment, nothing waiting, no FSN beyond it: handled at once.
    if (inOrder && !waiting && fsn <= seq && this.bufferedBytes + data.length <= this.limits.maxBufferedBytes) {
      this.cumulative = seq;
      this.count(flags);
      this.take(flags, data);
      return false;
    }
    const fresh = seq > this.cumulative && (pending === null || !pending.has(seq));
    if (fresh) {
      if (seq - this.cumulative > this.limits.maxWindow) {
        this.failure = `sequence number ${seq} is too far ahead of ${this.cumulative}`;
        return true;
      }
      // No room: drop it; the sender retransmits (reliable) or abandons it (media).
      if (this.bufferedBytes + data.length <= this.limits.maxBufferedBytes) {
        (this.pending ??= new Map()).set(seq, { flags, data });
        this.bufferedBytes += data.length;
        this.count(flags);
      }
    }
    // The FSN is news even on a duplicate (a sender's forward notice may repeat a sequence number).
    if (fsn > this.cumulative && fsn - this.cumulative <= this.limits.maxWindow) {
      this.skipTo(fsn);
    }
    this.drain();
    return !fresh || !inOrder || (this.pending !== null && this.pending.size > 0);
  }

  /** A fragment kept (first copy): received, or missing when the sender flagged it abandoned (not the FIN+ABN that ends a flow). */
  private count(flags: number): void {
    if ((flags & (UserDataFlag.ABANDON | UserDataFlag.FINAL)) === UserDataFlag.ABANDON) {
      this.loss.missing++;
    } else {
      this.loss.received++;
    }
  }

  /** The sender declared everything ≤ fsn delivered or abandoned: give up on the gaps below it. */
  private skipTo(fsn: number): void {
    const below = this.pending === null ? [] : [...this.pending.keys()].filter((s) => s <= fsn).sort((a, b) => a - b);
    for (const seq of below) {
      if (seq !== this.cumulative + 1) {
        this.dropAssembly();
        // The sequence numbers between never came.
        this.loss.missing += seq - this.cumulative - 1;
      }
      this.cumulative = seq;
      this.takePending(seq);
    }
    if (fsn > this.cumulative) {
      this.dropAssembly();
      this.loss.missing += fsn - this.cumulative;
      this.cumulative = fsn;
    }
  }

  private drain(): void {
    const pending = this.pending;
    while (pending !== null && this.failure === null && pending.has(this.cumulative + 1)) {
      this.cumulative++;
      this.takePending(this.cumulative);
    }
  }

  private takePending(seq: number): void {
    const pending = this.pending!;
    const fragment = pending.get(seq)!;
    pending.delete(seq);
    this.bufferedBytes -= fragment.data.length;
    this.take(fragment.flags, fragment.data);
  }

  /** The fragment just below the new cumulative point: deliver, start, continue or drop a message. */
  private take(flags: number, data: Buffer): void {
    if ((flags & UserDataFlag.ABANDON) !== 0) {
      this.dropAssembly();
      return;
    }
    switch (flags & UserDataFlag.FRAGMENT_MASK) {
      case 0: {
        this.dropAssembly();
        this.deliver(data);
        return;
      }
      case UserDataFlag.FRAGMENT_BEGIN: {
        this.dropAssembly();
        this.assembly = [data];
        this.assemblyBytes = data.length;
        this.bufferedBytes += data.length;
        return;
      }
      default: {
        // MIDDLE or END: continues a message only if its beginning was kept.
        if (this.assembly === null) {
          return;
        }
        this.assembly.push(data);
        this.assemblyBytes += data.length;
        this.bufferedBytes += data.length;
        if (this.assemblyBytes > this.limits.maxMessageBytes) {
          this.failure = `message over ${this.limits.maxMessageBytes} bytes`;
          this.dropAssembly();
          return;
        }
        if ((flags & UserDataFlag.FRAGMENT_MASK) === UserDataFlag.FRAGMENT_END) {
          const message = Buffer.concat(this.assembly, this.assemblyBytes);
          this.dropAssembly();
          this.deliver(message);
        }
      }
    }
  }

  private dropAssembly(): void {
    if (this.assembly !== null) {
      this.bufferedBytes -= this.assemblyBytes;
      this.assembly = null;
      this.assemblyBytes = 0;
    }
  }

  /**
   * Received sequence ranges above the cumulative point, ascending, as inclusive [from, to]
   * pairs written into `from`/`to` (at most `max`); returns how many.
   */
  ackRanges(from: Float64Array, to: Float64Array, max = from.length): number {
    if (this.pending === null || this.pending.size === 0) {
      return 0;
    }
    const seqs = [...this.pending.keys()].sort((a, b) => a - b);
    let count = 0;
    let i = 0;
    while (i < seqs.length && count < max) {
      const start = seqs[i];
      let end = start;
      while (i + 1 < seqs.length && seqs[i + 1] === end + 1) {
        i++;
        end++;
      }
      i++;
      from[count] = start;
      to[count] = end;
      count++;
    }
    return count;
  }
}
