import type { SessionCause } from '../../errors.js';
import type { MediaCommands } from '../flash/SessionMedia.js';

/**
 * The seam between the two halves of an RTMFP session (architecture.md §2):
 *
 * - the **data half** (`RtmfpSession`) lives with the UDP socket, in a media worker or on the
 *   main thread when `RTMFP.workers = 0`: crypto, flows, acks, retransmission, fan-out writes;
 * - the **control half** (`RtmfpControlSession`) lives on the main thread with the core and the
 *   applications: NetConnection/NetStream semantics, hooks, rendezvous, groups.
 *
 * With no workers the halves call each other directly; with workers the same calls become
 * messages of the worker's channel (protocols/worker/MediaChannel.ts), and media crosses once per
 * frame per worker.
 */

/** What the data half reports. */
export interface SessionEvents {
  /** A TC message on NetStream `streamId` (0 = NetConnection): command, data, media, user control. */
  onTc(streamId: number, type: number, timestamp: number, body: Buffer): void;
  /** A raw message on a GC (NetGroup) flow of the client. */
  onGroupMessage(flowId: number, message: Buffer): void;
  onGroupFlowClosed(flowId: number): void;
  /** Packets now come from a new address (RTMFP mobility). */
  onAddressChanged(host: string, port: number): void;
  /** The data half is gone (peer closed, timeout, protocol error). */
  onClosed(cause: SessionCause): void;
}

/** What the control half asks of the data half (media: play and publish, on the data half's thread). */
export interface SessionCommands extends MediaCommands {
  /** A reliable TC message on the control flow of NetStream `streamId`. */
  writeTc(streamId: number, message: Buffer): void;
  /**
   * A message on the flow of the control half's writer `writerId` (`writer:newWriter()`): a
   * NetConnection flow of its own, opened by its first message.
   */
  writeFlow(writerId: number, message: Buffer, reliable: boolean): void;
  /** That writer closed: its flow ends (after what it queued). */
  closeFlow(writerId: number): void;
  /** A raw message on the GC send flow answering the client's GC flow `clientFlowId`. */
  writeGroup(clientFlowId: number, message: Buffer): void;
  /** A ready-made chunk for the next packet (forwarded IHello). */
  queueChunk(chunk: Buffer): void;
  /** Ends the session; `graceful` sends what is queued first. */
  close(cause: SessionCause, graceful: boolean): void;
}
