import { RTMFP_MAX_DATAGRAM } from '../kernels/Kernels.js';
import { WireSlots } from '../media/MediaFrame.js';
import { type SocketIo, loadSocketIo } from '../kernels/index.js';
import { ChunkIterator, PacketHeader } from './rtmfp/RtmfpPacket.js';
import { AckChunk, FlowException, FlowOptions, UserDataChunk } from './rtmfp/sessionChunks.js';
import type { VluCursor } from './rtmfp/vlu.js';
import { FrameWriteBatch } from './rtmp/RtmpSocketWriter.js';

/** Ack ranges one Range Ack we send may carry (what `RtmfpRecvFlow.ackRanges` is asked for). */
export const SENT_ACK_RANGES = 32;

/**
 * The packet path's working state for one thread: the scratch a packet is built and parsed in,
 * the packet counter, the readers' cursors, the turn's RTMP write batch and the table of the
 * frames' wire slots. Packets are built and parsed synchronously, one at a time per thread, so
 * the sessions of a thread share one context instead of each holding its own copy; but nothing is
 * module-level: each thread (the main thread's `Server`, each media worker) creates one and
 * passes it to what it builds (data plane, RTMP protocol, HTTP live side, RTMFP session input and
 * output), so two contexts never share anything.
 */
export class WireContext {
  // Media: the slots of the frames' serialized forms (`MediaFrame.wire`), shared by every encoder of the thread.

  readonly wireSlots = new WireSlots();

  // RTMFP output (RtmfpSessionOutput).

  /** Where a packet is built when the send batch offers no slot of its own (room for padding). */
  readonly packetScratch = Buffer.alloc(RTMFP_MAX_DATAGRAM + 32);
  /** Numbers the packets built with this context (see `RtmfpSendFlow.packetMark`). */
  packetNumber = 0;
  /** A flow's ack ranges, read into these before they are written (Range Ack 0x51). */
  readonly ackRangeFrom = new Float64Array(SENT_ACK_RANGES);
  readonly ackRangeTo = new Float64Array(SENT_ACK_RANGES);

  // RTMFP input (RtmfpSessionInput): each chunk reader keeps its cursor in its chunk object.

  readonly header = new PacketHeader();
  readonly chunks = new ChunkIterator();
  readonly userData = new UserDataChunk();
  readonly flowOptions = new FlowOptions();
  readonly ack = new AckChunk();
  readonly exception = new FlowException();
  /** For the readers that fill no object (`readBufferProbe`). */
  readonly cursor: VluCursor = { pos: 0 };

  // RTMP output (RtmpSocketWriter).

  private batch: FrameWriteBatch | null;

  /**
   * `frames`: the RTMP write batch of this thread's sessions; by default one is made on first use,
   * on the native socket calls when they are loaded and can write TCP.
   */
  constructor(frames: FrameWriteBatch | null = null) {
    this.batch = frames;
  }

  /** The frames every RTMP writer of this thread queues during one event-loop turn. */
  get frames(): FrameWriteBatch {
    if (this.batch === null) {
      const io = loadSocketIo();
      this.batch = new FrameWriteBatch(io.batchedTcp ? io : null);
    }
    return this.batch;
  }

  /**
   * Replaces the write batch for the RTMP sessions created from now on (tests run both write paths
   * in one process: `null` = through Node only), with `mergeMs` 0; the current one is flushed
   * first. Returns the new batch.
   */
  useFrameBatch(io: SocketIo | null): FrameWriteBatch {
    this.batch?.flush();
    this.batch = new FrameWriteBatch(io !== null && io.batchedTcp ? io : null);
    return this.batch;
  }
}
