import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { SocketIo } from '../../kernels/index.js';

/**
 * The write side of one RTMP session's socket. Control messages and commands go out at once,
 * through Node (`write`). Media frames (`writeFrame`, the fan-out hot path) are queued in the
 * thread's `FrameWriteBatch` (its `WireContext.frames`) and leave once the current event-loop
 * turn's synchronous work is done, all players together: with the native addon (Linux) in one
 * call that writes every player's bytes with one sendmsg(2) each, otherwise one `socket.write`
 * per player (several frames of one turn as one corked writev). Either way each player gets one
 * send per turn.
 *
 * Byte order is kept by two rules: a direct (native) write happens only while Node has nothing
 * queued or in flight for the socket (`writableLength === 0`, not corked, still writable), and
 * what the kernel does not take goes to `socket.write()`, so everything after it follows it
 * through Node until Node's queue drains; and an immediate write first sends this session's
 * queued frames (`FrameWriteBatch.flush`).
 */
export class RtmpSocketWriter {
  /** Frames queued in the batch this turn (0: none), their bytes, and this writer's batch slot. */
  batchCount = 0;
  batchBytes = 0;
  batchSlot = -1;
  /** The libuv handle whose descriptor `fd` is: re-read whenever the socket's handle changes. */
  private fdHandle: object | null = null;
  private fd = -1;
  /**
   * False only when Node's write queue for the socket is known to be empty: it was read as 0 and
   * nothing was written through Node since (its length grows only by `socket.write`, and every
   * write to this socket goes through here). Saves reading the socket's state per frame.
   */
  nodeQueued = true;
  /** Bytes written to the kernel directly (native path), which Node's `socket.bytesWritten` does not see. */
  directBytes = 0;
  /** Node's completed writes at the last `bytesSent`. */
  private nodeBytes = 0;

  constructor(
    readonly socket: Socket,
    /** The batch of this thread's writers (`WireContext.frames`). */
    private readonly batch: FrameWriteBatch,
  ) {}

  /**
   * Bytes the player is behind by: what the kernel did not take and waits in Node's queue (the
   * drop policy's input). Frames held in the batch for this turn or for mergeWrite are not
   * counted: they leave by design, and a writer holds at most MAX_HELD_BYTES of them.
   */
  get queuedBytes(): number {
    if (this.nodeQueued) {
      const queued = this.socket.writableLength;
      if (queued !== 0) {
        return queued;
      }
      this.nodeQueued = false;
    }
    return 0;
  }

  /**
   * Bytes the kernel took for this socket: Node's writes that completed (what it dispatched,
   * less what still waits in its queue or in flight) and the direct writes. Read by the traffic
   * report once a second, never per frame.
   */
  get bytesSent(): number {
    const socket = this.socket;
    // Undefined once Node dropped the stream's write state: the last count stands.
    const dispatched = socket.bytesWritten as number | undefined;
    if (dispatched !== undefined) {
      this.nodeBytes = Math.max(this.nodeBytes, dispatched - socket.writableLength);
    }
    return this.nodeBytes + this.directBytes;
  }

  /** Writes now, after this session's queued frames. */
  write(bytes: Buffer): void {
    if (this.batchCount > 0) {
      this.batch.flush();
    }
    this.nodeQueued = true;
    this.socket.write(bytes);
  }

  /**
   * Writes with the frames: at once when none are queued, else behind them in the batch (a ping
   * to a player waits for its merged write instead of forcing the whole batch out).
   */
  writeQueued(bytes: Buffer): void {
    if (this.batchCount > 0) {
      this.batch.add(this, bytes);
    } else {
      this.write(bytes);
    }
  }

  /** Queues a frame's wire bytes (shared by every player: never modified) for the end of this turn. */
  writeFrame(bytes: Buffer): void {
    this.batch.add(this, bytes);
  }

  /**
   * The socket's descriptor when a direct write keeps the byte order (nothing queued in Node, not
   * corked, not ending), else -1. `_handle` is net.Socket's libuv handle (an internal field, not
   * deprecated for TCP; DEP0112 is dgram's): null once the socket is destroyed, which closes the
   * descriptor, so a number read here is never a descriptor reused by another connection.
   */
  directFd(): number {
    const socket = this.socket;
    if (this.nodeQueued) {
      if (socket.writableLength !== 0) {
        return -1;
      }
      this.nodeQueued = false;
    }
    if (socket.writableCorked !== 0 || !socket.writable || socket.connecting) {
      return -1;
    }
    const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
    if (handle === undefined || handle === null) {
      return -1;
    }
    if (handle !== this.fdHandle) {
      this.fdHandle = handle;
      this.fd = typeof handle.fd === 'number' && handle.fd >= 0 ? handle.fd : -1;
    }
    return this.fd;
  }

  /** Sends this session's queued frames now (before the socket is ended or destroyed). */
  settle(): void {
    if (this.batchCount > 0) {
      this.batch.flush();
    }
  }

  /** The socket failed under a direct write: the same 'error' and 'close' Node's own write gives. */
  failed(errno: number): void {
    let code = `E${errno}`;
    try {
      code = getSystemErrorName(-errno);
    } catch {
      // not an errno this Node knows: keep the number
    }
    const err = Object.assign(new Error(`write ${code}`), { code, errno: -errno, syscall: 'write' });
    this.socket.destroy(err);
  }
}

/** Writers whose frames are batched; grows as needed, never shrinks. */
const INITIAL_CAPACITY = 256;
/** Bytes a writer holds for mergeWrite before the batch leaves early (what a player may wait on is bounded). */
const MAX_HELD_BYTES = 256 * 1024;
/** Distinct byte pieces in one batch (a Uint16 index); a batch flushes early past it. */
const MAX_PIECES = 4096;

/**
 * The frames queued by every writer of this thread during one event-loop turn, flushed in a
 * `process.nextTick` (or earlier, when a writer needs an immediate write). Frames are kept as
 * references into a table of distinct pieces (a frame's bytes are shared by every player with the
 * same chunk size and stream id), so a turn costs no allocation per player.
 */
export class FrameWriteBatch {
  /** What the flushes did, per writer and flush (diagnostics and tests). */
  readonly stats = {
    /** Written directly (native), whole. */
    direct: 0,
    /** Written directly in part (the kernel's buffer filled); the rest went through Node. */
    partial: 0,
    /** Written through Node (no native path, or Node had bytes queued for the socket). */
    node: 0,
    /** A direct write failed (the socket was destroyed with the error). */
    failed: 0,
  };

  private readonly writers: RtmpSocketWriter[] = [];
  private readonly pieces: Buffer[] = [];
  private lastPiece: Buffer | null = null;
  private lastRef = 0;
  private entries = 0;
  private entryWriter = new Uint32Array(INITIAL_CAPACITY);
  private entryRef = new Uint16Array(INITIAL_CAPACITY);
  private refs = new Uint16Array(INITIAL_CAPACITY);
  private refOffsets = new Uint32Array(INITIAL_CAPACITY + 1);
  private fds = new Int32Array(INITIAL_CAPACITY);
  private results = new Int32Array(INITIAL_CAPACITY);
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly flushTick = (): void => {
    try {
      this.flush();
    } catch (err) {
      this.failAll(err);
    }
  };
  /**
   * RTMP.mergeWrite: how long frames may wait to leave together (as SRS's mw_latency), in ms.
   * 0: every turn's frames leave at the end of the turn. Otherwise every player's frames leave
   * together every `mergeMs`, one sendmsg per player for all of them.
   */
  mergeMs = 0;

  /** `io`: native writes (null: every write goes through Node). */
  constructor(readonly io: SocketIo | null) {}

  /** Whether frames go to the kernel directly when they can (the native path). */
  get direct(): boolean {
    return this.io !== null;
  }

  add(writer: RtmpSocketWriter, bytes: Buffer): void {
    let ref = this.lastRef;
    if (bytes !== this.lastPiece) {
      ref = this.pieces.indexOf(bytes);
      if (ref < 0) {
        if (this.pieces.length >= MAX_PIECES) {
          this.flush();
        }
        ref = this.pieces.length;
        this.pieces.push(bytes);
      }
      this.lastPiece = bytes;
      this.lastRef = ref;
    }
    if (writer.batchSlot < 0) {
      writer.batchSlot = this.writers.length;
      this.writers.push(writer);
    }
    const e = this.entries;
    if (e === this.entryRef.length) {
      this.entryWriter = grow(this.entryWriter, Uint32Array);
      this.entryRef = grow(this.entryRef, Uint16Array);
    }
    this.entryWriter[e] = writer.batchSlot;
    this.entryRef[e] = ref;
    this.entries = e + 1;
    writer.batchCount++;
    writer.batchBytes += bytes.length;
    if (writer.batchBytes > MAX_HELD_BYTES && this.mergeMs > 0) {
      // A burst (a late joiner's GOP, a publisher faster than real time): out now, merged or not.
      this.flushSoon();
    }
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.mergeMs === 0) {
        process.nextTick(this.flushTick);
      } else {
        this.timer = setTimeout(this.flushTick, this.mergeMs);
      }
    }
  }

  /**
   * A flush threw (a native call refused its arguments: a bug, not the network): the players in
   * the batch lost frames mid-stream, so their sockets close with the error; nobody else is touched.
   */
  private failAll(err: unknown): void {
    const writers = [...this.writers];
    this.writers.length = 0;
    this.pieces.length = 0;
    this.entries = 0;
    this.lastPiece = null;
    const error = err instanceof Error ? err : new Error(String(err));
    for (const writer of writers) {
      writer.batchCount = 0;
      writer.batchBytes = 0;
      writer.batchSlot = -1;
      writer.socket.destroy(error);
    }
  }

  /** Flushes at the end of this turn instead of at the merge timer. */
  private flushSoon(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      process.nextTick(this.flushTick);
    }
  }

  /** Sends everything queued: directly where the order allows it, the rest through Node. */
  flush(): void {
    this.scheduled = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const writers = this.writers;
    const n = writers.length;
    if (n === 0) {
      return;
    }
    if (this.fds.length < n) {
      const size = Math.max(n, this.fds.length * 2);
      this.fds = new Int32Array(size);
      this.results = new Int32Array(size);
      this.refOffsets = new Uint32Array(size + 1);
    }
    if (this.refs.length < this.entries) {
      this.refs = new Uint16Array(this.entryRef.length);
    }
    // Each writer's refs together, in the order they were queued (a counting sort).
    const offsets = this.refOffsets;
    offsets[0] = 0;
    for (let i = 0; i < n; i++) {
      offsets[i + 1] = offsets[i] + writers[i].batchCount;
    }
    const fds = this.fds;
    for (let i = 0; i < n; i++) {
      fds[i] = offsets[i]; // a cursor for now
    }
    const refs = this.refs;
    for (let e = 0; e < this.entries; e++) {
      refs[fds[this.entryWriter[e]]++] = this.entryRef[e];
    }
    const pieces = this.pieces;
    const results = this.results;
    let direct = 0;
    const io = this.io;
    for (let i = 0; i < n; i++) {
      const fd = io === null ? -1 : writers[i].directFd();
      fds[i] = fd;
      if (fd >= 0) {
        direct++;
      }
    }
    if (direct > 0 && io !== null) {
      io.writeStreams(n, fds, pieces, refs, offsets, results);
    }
    const stats = this.stats;
    // Writers are released before any Node write: a write's side effects must find the batch
    // consistent (nothing below queues into it).
    this.entries = 0;
    this.lastPiece = null;
    for (let i = 0; i < n; i++) {
      const writer = writers[i];
      writer.batchCount = 0;
      writer.batchBytes = 0;
      writer.batchSlot = -1;
    }
    try {
      for (let i = 0; i < n; i++) {
        const writer = writers[i];
        if (fds[i] < 0) {
          stats.node++;
          writeRest(writer, pieces, refs, offsets[i], offsets[i + 1], 0);
          continue;
        }
        const written = results[i];
        if (written < 0) {
          stats.failed++;
          writer.failed(-written);
          continue;
        }
        writer.directBytes += written;
        if (writeRest(writer, pieces, refs, offsets[i], offsets[i + 1], written)) {
          stats.partial++;
        } else {
          stats.direct++;
        }
      }
    } finally {
      writers.length = 0;
      pieces.length = 0;
    }
  }
}

/**
 * Writes refs [start, end) of `pieces` through Node, skipping the first `skip` bytes (already
 * sent). Returns whether anything was left to write.
 */
function writeRest(writer: RtmpSocketWriter, pieces: readonly Buffer[], refs: Uint16Array, start: number, end: number, skip: number): boolean {
  const socket = writer.socket;
  let k = start;
  while (k < end && skip >= pieces[refs[k]].length) {
    skip -= pieces[refs[k]].length;
    k++;
  }
  if (k === end) {
    return false;
  }
  if (socket.destroyed || socket.writableEnded) {
    return true;
  }
  writer.nodeQueued = true;
  if (end - k === 1) {
    socket.write(skip > 0 ? pieces[refs[k]].subarray(skip) : pieces[refs[k]]);
    return true;
  }
  socket.cork();
  socket.write(skip > 0 ? pieces[refs[k]].subarray(skip) : pieces[refs[k]]);
  for (k++; k < end; k++) {
    socket.write(pieces[refs[k]]);
  }
  socket.uncork();
  return true;
}

function grow<T extends Uint16Array | Uint32Array>(a: T, Type: new (n: number) => T): T {
  const b = new Type(a.length * 2);
  b.set(a);
  return b;
}
