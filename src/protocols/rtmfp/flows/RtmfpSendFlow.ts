import { type Congestion, MAX_PACKET } from './Congestion.js';
import { FragmentLoss } from './FragmentLoss.js';
import { UserDataFlag, encodeFlowOptions } from '../sessionChunks.js';

/**
 * Sending side of one RTMFP flow (RFC 7016 §3.6.2): messages are cut into fragments that each
 * take one sequence number; reliable fragments are retransmitted (after 3 later acks or the
 * session's ERTO) until acked; unreliable ones (media) are sent once and abandoned when lost or
 * past their deadline, which moves the forward sequence number (FSN) so the receiver stops
 * waiting. The session asks `nextFragment` for what to put in its packets and feeds acks back.
 */

/** Largest fragment payload: a packet minus SSID, checksum, header, chunk and User Data headers. */
export const MAX_FRAGMENT = MAX_PACKET - 4 - 2 - 5 - 3 - 20;
/** A reliable fragment unacked this long fails the flow (RFC 7016 suggests 120 s). */
const GIVE_UP_MS = 120_000;
const NAK_THRESHOLD = 3;
const EMPTY = Buffer.alloc(0);
/** Compaction moves the live fragments to the front of the queue once this many done ones precede them. */
const COMPACT_AT = 32;

export class OutFragment {
  sentAt = 0;
  sendCount = 0;
  nakCount = 0;
  /** Acked, or abandoned: nothing more to do but leave the queue. */
  done = false;
  inFlight = false;
  /** When it was first sent (the give-up clock of reliable fragments). */
  firstSentAt = 0;
  /** An empty ABANDONED fragment that only tells the peer the FSN; not queued, not counted. */
  notice = false;
  /**
   * The bytes to put in a packet, valid from `nextFragment` returning the fragment until it is
   * done: a view of the message made only when the fragment is about to go out (the fragments of
   * a keyframe waiting in hundreds of sessions' queues cost no views), released once done.
   */
  data: Buffer = EMPTY;

  constructor(
    readonly seq: number,
    /** FRA bits, plus FINAL on the flow's last fragment. ABANDONED is added when abandoned. */
    public flags: number,
    /** The whole message this fragment is a part of (shared by every session it is written to). */
    private message: Buffer | null,
    /** Where the fragment starts in `message`. */
    private readonly offset: number,
    /** Payload bytes. */
    readonly size: number,
    readonly reliable: boolean,
    /** Epoch ms after which an unreliable fragment is abandoned instead of sent; 0 = none. */
    readonly deadline: number,
  ) {}

  /** Makes `data` the fragment's bytes. */
  prepare(): void {
    const message = this.message;
    if (message !== null && this.data.length !== this.size) {
      this.data = this.offset === 0 && this.size === message.length ? message : message.subarray(this.offset, this.offset + this.size);
    }
  }

  /** Done (acked or abandoned): nothing reads the bytes again. */
  release(): void {
    this.done = true;
    this.message = null;
    this.data = EMPTY;
  }
}

/**
 * How a message of `length` bytes is cut: fragment i is `[offsets[i], offsets[i] + sizes[i])`
 * with `flags[i]` (FRA bits). The same for every session (the fan-out computes it once per frame).
 */
export interface FragmentTable {
  count: number;
  offsets: number[];
  sizes: number[];
  flags: number[];
}

export function fragmentTable(length: number): FragmentTable {
  if (length <= MAX_FRAGMENT) {
    return { count: 1, offsets: [0], sizes: [length], flags: [0] };
  }
  const table: FragmentTable = { count: 0, offsets: [], sizes: [], flags: [] };
  for (let offset = 0; offset < length; offset += MAX_FRAGMENT) {
    const end = Math.min(length, offset + MAX_FRAGMENT);
    table.offsets.push(offset);
    table.sizes.push(end - offset);
    table.flags.push(offset === 0 ? UserDataFlag.FRAGMENT_BEGIN : end === length ? UserDataFlag.FRAGMENT_END : UserDataFlag.FRAGMENT_MIDDLE);
    table.count++;
  }
  return table;
}

/** What a queue slot holds once its fragment is done and behind the head (the fragment itself is let go). */
const GONE = new OutFragment(0, 0, null, 0, 0, false, 0);
GONE.done = true;

export class RtmfpSendFlow {
  private nextSeq = 1;
  /**
   * Fragments in sequence order from `head`: queued, in flight, or done but behind one that is not.
   * Slots before `head` hold `GONE`: a done fragment leaves the queue as soon as nothing precedes it.
   */
  private readonly queue: OutFragment[] = [];
  private head = 0;
  /** Options (metadata, return association) ride on this flow's chunks until the first ack. */
  optionsAcked = false;
  /** Receive window the peer announced for this flow, in bytes; 0 closes the flow for new data. */
  peerWindow = 64 * 1024;
  /** Set when the peer rejected the flow (0x5E) or a reliable fragment could not be delivered. */
  failure: string | null = null;
  private finished = false;
  /** Bytes of fragments queued and not yet sent (the media drop policy looks at it). */
  queuedBytes = 0;
  /** The peer's cumulative point from its last ack. */
  private peerCumulative = 0;
  /** When the last forward-sequence notice went out (see `forwardNotice`). */
  private noticeSentAt = 0;
  private abandonedSinceNotice = false;
  /** The output's number of the last packet this flow put a chunk in (options go once per packet). */
  packetMark = 0;
  private encodedOptions: Buffer | null = null;
  /** Fragments sent or resent; for stats. */
  sent = 0;
  retransmitted = 0;
  abandoned = 0;

  constructor(
    readonly id: number,
    /** Flow metadata option value (e.g. `TC 04 00`, `GC`). */
    readonly metadata: Buffer,
    /** Peer flow ID this flow answers (return association option), or -1. */
    readonly associatedFlowId: number,
    private readonly congestion: Congestion,
    /** The session's fragment loss counts (Client.traffic.lostRate), shared by its flows. */
    private readonly loss: FragmentLoss = new FragmentLoss(),
  ) {}

  /** The flow's options (metadata, return association), as they ride on its chunks until acked. */
  get options(): Buffer {
    return (this.encodedOptions ??= encodeFlowOptions(this.metadata, this.associatedFlowId));
  }

  /** Sequence numbers ≤ FSN are acked or abandoned. */
  get fsn(): number {
    for (let i = this.head; i < this.queue.length; i++) {
      if (!this.queue[i].done) {
        return this.queue[i].seq - 1;
      }
    }
    return this.nextSeq - 1;
  }

  /** True when everything written was acked (or abandoned) and the FIN, if any, too. */
  get idle(): boolean {
    return this.head >= this.queue.length;
  }

  get closed(): boolean {
    return this.finished;
  }

  /** Queue a message. Unreliable messages get `deadlineMs` from now (0 = no deadline). */
  write(message: Buffer, reliable: boolean, now: number, deadlineMs = 0): void {
    if (this.finished || this.failure !== null) {
      return;
    }
    const deadline = reliable || deadlineMs === 0 ? 0 : now + deadlineMs;
    if (message.length <= MAX_FRAGMENT) {
      this.push(new OutFragment(this.nextSeq++, 0, message, 0, message.length, reliable, deadline));
      return;
    }
    for (let offset = 0; offset < message.length; offset += MAX_FRAGMENT) {
      const end = Math.min(message.length, offset + MAX_FRAGMENT);
      const flags = offset === 0 ? UserDataFlag.FRAGMENT_BEGIN : end === message.length ? UserDataFlag.FRAGMENT_END : UserDataFlag.FRAGMENT_MIDDLE;
      this.push(new OutFragment(this.nextSeq++, flags, message, offset, end - offset, reliable, deadline));
    }
  }

  /**
   * Whether an unreliable message of `length` bytes may leave at once, whole (the fan-out's fast
   * path): nothing of this flow waits to be sent, and the windows take it all.
   */
  canSendNow(length: number): boolean {
    const c = this.congestion;
    return !this.finished && this.failure === null && this.queuedBytes === 0 && c.inFlight + length <= c.cwnd && this.peerWindow >= length;
  }

  /**
   * Takes an unreliable message as sent now, cut as `table` says: the caller puts its fragments
   * in datagrams at once (RtmfpFanOut). Returns the sequence number of the first fragment.
   */
  sendNow(message: Buffer, table: FragmentTable, now: number, deadlineMs: number): number {
    const first = this.nextSeq;
    const deadline = deadlineMs === 0 ? 0 : now + deadlineMs;
    for (let i = 0; i < table.count; i++) {
      const fragment = new OutFragment(this.nextSeq++, table.flags[i], message, table.offsets[i], table.sizes[i], false, deadline);
      this.push(fragment);
      this.markSent(fragment, now);
    }
    return first;
  }

  /** Ends the flow: an empty final fragment (FIN with ABN, as Flash expects it). */
  finish(): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    this.push(new OutFragment(this.nextSeq++, UserDataFlag.FINAL | UserDataFlag.ABANDON, null, 0, 0, true, 0));
  }

  private push(fragment: OutFragment): void {
    this.queue.push(fragment);
    this.queuedBytes += fragment.size;
  }

  /**
   * The next fragment to put in a packet, or null: an unsent fragment when the windows allow,
   * or a reliable one due for retransmission. Unreliable fragments past their deadline are
   * abandoned on the way.
   */
  nextFragment(now: number): OutFragment | null {
    if (this.failure !== null) {
      return null;
    }
    const rto = this.congestion.erto;
    for (let i = this.head; i < this.queue.length; i++) {
      const f = this.queue[i];
      if (f.done) {
        continue;
      }
      if (f.sendCount === 0) {
        if (f.deadline !== 0 && now > f.deadline) {
          this.abandon(f);
          continue;
        }
        if (!this.congestion.canSend || (this.peerWindow === 0 && f.size > 0)) {
          return null;
        }
        f.prepare();
        return f;
      }
      if (!f.reliable) {
        // Sent once; it is abandoned when acks show it lost, or after a timeout.
        if (now - f.sentAt > rto) {
          this.abandon(f);
        }
        continue;
      }
      // The session's ERTO already backs off (×√2 per timeout, up to 10 s).
      if (f.nakCount >= NAK_THRESHOLD || now - f.sentAt > rto) {
        if (f.nakCount < NAK_THRESHOLD) {
          this.congestion.onTimeout(now);
        }
        if (now - f.firstSentAt > GIVE_UP_MS) {
          this.failure = `message not acknowledged within ${GIVE_UP_MS / 1000} s`;
          return null;
        }
        f.prepare();
        return f;
      }
    }
    this.compact();
    return this.forwardNotice(now);
  }

  /**
   * When fragments were abandoned and nothing later carries the new FSN to the peer, the peer
   * would wait for them forever: send an empty ABANDONED fragment with the highest abandoned
   * sequence number (it carries the FSN), again every ERTO until an ack shows the peer moved on.
   */
  private forwardNotice(now: number): OutFragment | null {
    if (this.head < this.queue.length) {
      return null;
    }
    const fsn = this.fsn;
    if (fsn <= this.peerCumulative || (!this.abandonedSinceNotice && now - this.noticeSentAt < this.congestion.erto)) {
      return null;
    }
    const notice = new OutFragment(fsn, UserDataFlag.ABANDON, null, 0, 0, false, 0);
    notice.notice = true;
    return notice;
  }

  /** The session put `f` in a packet. */
  markSent(f: OutFragment, now: number): void {
    if (f.notice) {
      this.noticeSentAt = now;
      this.abandonedSinceNotice = false;
      return;
    }
    if (f.sendCount === 0) {
      this.queuedBytes -= f.size;
      f.firstSentAt = now;
      this.loss.sent++;
    } else {
      if (f.sendCount === 1) {
        // Its first copy is taken as lost (once per fragment, however many resends it takes).
        this.loss.lost++;
      }
      this.retransmitted++;
      if (f.inFlight) {
        this.congestion.onLeft(f.size);
      }
    }
    f.sendCount++;
    f.sentAt = now;
    f.nakCount = 0;
    f.inFlight = true;
    this.sent++;
    this.congestion.onSent(f.size);
  }

  /** `counted`: the fragment did not make it (false when the peer rejected the whole flow). */
  private abandon(f: OutFragment, counted = true): void {
    if (f.sendCount === 0) {
      this.queuedBytes -= f.size;
      if (counted) {
        // Never left: counted as one of ours, and as failed.
        this.loss.sent++;
        this.loss.lost++;
      }
    } else if (f.sendCount === 1 && counted) {
      // Sent once and given up (a resent one was counted lost when resent).
      this.loss.lost++;
    }
    if (f.inFlight) {
      this.congestion.onLeft(f.size);
      f.inFlight = false;
    }
    f.release();
    this.abandoned++;
    this.abandonedSinceNotice = true;
  }

  /**
   * An Ack chunk for this flow: everything ≤ `cumulative` received, plus the inclusive ranges
   * `[from[i], to[i]]` for i < count (ascending). Marks fragments done, samples RTT (Karn: only
   * fragments sent once), counts NAKs for the fragments below the highest acked one.
   */
  onAck(cumulative: number, from: ArrayLike<number>, to: ArrayLike<number>, count: number, bufferBlocks: number, now: number): void {
    this.peerWindow = bufferBlocks * 1024;
    this.peerCumulative = Math.max(this.peerCumulative, cumulative);
    this.optionsAcked = true;
    const highest = count > 0 ? to[count - 1] : cumulative;
    let range = 0;
    let newest = -1;
    let ackedBytes = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const f = this.queue[i];
      if (f.seq > highest) {
        break;
      }
      if (f.done || f.sendCount === 0) {
        continue;
      }
      while (range < count && to[range] < f.seq) {
        range++;
      }
      const acked = f.seq <= cumulative || (range < count && from[range] <= f.seq);
      if (acked) {
        f.release();
        if (f.inFlight) {
          f.inFlight = false;
          this.congestion.onLeft(f.size);
        }
        ackedBytes += f.size;
        if (f.sendCount === 1 && f.sentAt > newest) {
          newest = f.sentAt;
        }
      } else if (++f.nakCount >= NAK_THRESHOLD) {
        if (f.inFlight) {
          f.inFlight = false;
          this.congestion.onLeft(f.size);
        }
        this.congestion.onLoss(now);
        if (!f.reliable) {
          this.abandon(f);
        }
      }
    }
    if (newest > 0) {
      this.congestion.sample(now - newest);
    }
    if (ackedBytes > 0) {
      this.congestion.onAcked(ackedBytes);
    }
    this.compact();
  }

  /** The peer rejected the flow (Flow Exception 0x5E). */
  reject(code: number): void {
    this.failure = `flow rejected by the peer (code ${code})`;
    for (let i = this.head; i < this.queue.length; i++) {
      const f = this.queue[i];
      if (!f.done) {
        this.abandon(f, false);
      }
    }
    this.compact();
  }

  /**
   * Lets done fragments go as soon as nothing before them is pending: the queue keeps only what is
   * queued, in flight, or done behind something that is not (a flow whose every fragment was acked
   * holds none; the control flow no longer keeps its first statuses for the session's lifetime).
   */
  private compact(): void {
    const queue = this.queue;
    let head = this.head;
    while (head < queue.length && queue[head].done) {
      queue[head++] = GONE;
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head >= COMPACT_AT && head * 2 >= queue.length) {
      queue.copyWithin(0, head);
      queue.length -= head;
      head = 0;
    }
    this.head = head;
  }

  /** Fragments the flow holds (queued, in flight, or done behind one that is not); for tests. */
  get heldFragments(): number {
    return this.queue.length - this.head;
  }
}
