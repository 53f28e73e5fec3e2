import { type FanOutBatch, type Kernels, type PacketKey, RTMFP_MAX_DATAGRAM } from '../../kernels/index.js';
import type { RtmfpAddress } from './address.js';
import type { DatagramBatch } from './DatagramBatch.js';
import { type FragmentTable, type RtmfpSendFlow, fragmentTable } from './flows/RtmfpSendFlow.js';
import { writeUserDataHeader } from './sessionChunks.js';

/** What the fan-out needs of a session (RtmfpSession). */
export interface FanOutSession {
  readonly closed: boolean;
  readonly address: RtmfpAddress;
  readonly keys: { readonly farSsid: number; readonly encryptKey: PacketKey };
  /** The unreliable flow of NetStream `streamId` for `kind` (audio or video), null when it plays nothing. */
  mediaFlow(streamId: number, kind: number): RtmfpSendFlow | null;
  /**
   * Whether NetStream `streamId` has nothing reliable waiting (statuses, decoder configurations):
   * media must not overtake them, so until then frames take the flows' own path.
   */
  controlIdle(streamId: number): boolean;
  /** Queues the message on the flow the usual way (it could not leave at once). */
  queueMedia(flow: RtmfpSendFlow, message: Buffer): void;
  /** Writes the packet header (flags, timestamp, echo) at `buf[offset...]`, returns its end. */
  writePacketHeader(buf: Buffer, offset: number, now: number): number;
  /** Counts a packet sent for it, a datagram of `bytes`. */
  countPacket(bytes: number): void;
}

/** One frame's TC message and the sessions that get it this turn. */
interface Pending {
  message: Buffer;
  sessions: FanOutSession[];
  streams: number[];
  kind: number;
}

const SLOT = RTMFP_MAX_DATAGRAM + 32;
/** Room for one session's head: packet header (5) and a User Data chunk header with its options. */
const HEAD = 128;
/** Most heads of one frame kept between turns (the arrays are reused, not shrunk). */
const INITIAL_SESSIONS = 64;

/**
 * The RTMFP fan-out of one socket (architecture.md §4 step 3): the media frames a turn writes to
 * many sessions leave as datagrams built from one fragment table per frame and sealed by one
 * `encryptFanOut` call per fragment for all sessions (multi-buffer AES with the native kernels),
 * instead of one packet assembly per session: per session only the packet header and the chunk
 * header differ. A session whose flow cannot take the whole frame now (window closed, fragments
 * still waiting) gets it queued on its flow as before. Audio and video only: configurations and
 * metadata are reliable and take the flows' own path.
 */
export class RtmfpFanOut {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly flushNow = (): void => this.flush();
  private keys: PacketKey[] = [];
  private ssids = new Uint32Array(INITIAL_SESSIONS);
  private heads = Buffer.allocUnsafe(INITIAL_SESSIONS * HEAD);
  private headOffsets = new Uint32Array(INITIAL_SESSIONS + 1);
  private out = Buffer.allocUnsafe(INITIAL_SESSIONS * SLOT);
  private outOffsets = new Uint32Array(INITIAL_SESSIONS + 1);
  private fast: FanOutSession[] = [];
  private flows: RtmfpSendFlow[] = [];
  /** Per fast session: the sequence number of the frame's first fragment, and the flow's FSN then. */
  private firstSeqs: number[] = [];
  private fsns: number[] = [];
  private destinations: RtmfpAddress[] = [];
  /** Frames × sessions that left at once, and those queued on their flow instead. */
  readonly stats = { fast: 0, queued: 0, datagrams: 0, failed: 0 };

  constructor(
    private readonly kernels: Kernels,
    private readonly batch: () => DatagramBatch | null,
    private readonly deadlineMs: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** `session`'s NetStream `streamId` gets the frame's TC message `message` (audio or video). */
  add(session: FanOutSession, streamId: number, message: Buffer, kind: number): void {
    // The fan-out loop writes one frame to all its subscribers in a row: they share an entry.
    let last = this.pending.length > 0 ? this.pending[this.pending.length - 1] : null;
    if (last === null || last.message !== message) {
      last = { message, sessions: [], streams: [], kind };
      this.pending.push(last);
    }
    last.sessions.push(session);
    last.streams.push(streamId);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Sends what the turn wrote (a microtask after the first frame). */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    const now = Date.now();
    for (const frame of pending) {
      try {
        this.send(frame, now);
      } catch (err) {
        // A kernel call that threw: this frame's datagrams are lost for these sessions (media is
        // unreliable: they are abandoned like a lost packet), the next frames go on.
        this.stats.failed++;
        this.onError(err);
      }
    }
  }

  private send(frame: Pending, now: number): void {
    const message = frame.message;
    const table = fragmentTable(message.length);
    const deadline = this.deadlineMs();
    const fast = this.fast;
    const flows = this.flows;
    const firstSeqs = this.firstSeqs;
    fast.length = 0;
    flows.length = 0;
    firstSeqs.length = 0;
    this.fsns.length = 0;
    for (let i = 0; i < frame.sessions.length; i++) {
      const session = frame.sessions[i];
      const flow = session.closed ? null : session.mediaFlow(frame.streams[i], frame.kind);
      if (flow === null) {
        continue;
      }
      if (flow.canSendNow(message.length) && session.controlIdle(frame.streams[i])) {
        firstSeqs.push(flow.sendNow(message, table, now, deadline));
        this.fsns.push(flow.fsn);
        fast.push(session);
        flows.push(flow);
      } else {
        session.queueMedia(flow, message);
        this.stats.queued++;
      }
    }
    if (fast.length === 0) {
      return;
    }
    this.stats.fast += fast.length;
    for (let k = 0; k < table.count; k++) {
      this.sendFragment(table, k, message, now);
    }
  }

  /** Fragment `k` of the frame to every fast session: heads, one kernel call, one send. */
  private sendFragment(table: FragmentTable, k: number, message: Buffer, now: number): void {
    const count = this.fast.length;
    this.ensure(count);
    const heads = this.heads;
    const headOffsets = this.headOffsets;
    let o = 0;
    for (let i = 0; i < count; i++) {
      const session = this.fast[i];
      const flow = this.flows[i];
      headOffsets[i] = o;
      // A head is built as a packet's content: writePacketHeader writes from its offset.
      o = session.writePacketHeader(heads, o, now);
      const seq = this.firstSeqs[i] + k;
      const options = flow.optionsAcked ? null : flow.options;
      o = writeUserDataHeader(heads, o, table.flags[k], flow.id, seq, seq - this.fsns[i], options, table.sizes[k]);
      this.keys[i] = session.keys.encryptKey;
      this.ssids[i] = session.keys.farSsid;
      this.destinations[i] = session.address;
    }
    headOffsets[count] = o;
    this.keys.length = count;
    const batch: FanOutBatch = { count, keys: this.keys, ssids: this.ssids, heads, headOffsets };
    const start = table.offsets[k];
    const outOffsets = this.outOffsets;
    this.kernels.encryptFanOut(batch, message, start, start + table.sizes[k], this.out, outOffsets);
    for (let i = 0; i < count; i++) {
      this.fast[i].countPacket(outOffsets[i + 1] - outOffsets[i]);
    }
    this.stats.datagrams += count;
    const sink = this.batch();
    sink?.sendSealed(this.out, this.outOffsets, count, this.destinations);
  }

  private ensure(count: number): void {
    if (this.ssids.length < count) {
      const size = Math.max(count, this.ssids.length * 2);
      this.ssids = new Uint32Array(size);
      this.headOffsets = new Uint32Array(size + 1);
      this.outOffsets = new Uint32Array(size + 1);
      this.heads = Buffer.allocUnsafe(size * HEAD);
      this.out = Buffer.allocUnsafe(size * SLOT);
    }
  }
}
