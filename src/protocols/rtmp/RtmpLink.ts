/**
 * The seam between the two halves of an RTMP session (as SessionLink.ts is for RTMFP):
 *
 * - the **data half** (`RtmpDataSession`) owns the socket: handshake, chunk stream, acks, pings,
 *   timeouts, and the media of its NetStreams (players in the thread's fan-out, publishers' frames
 *   into their publication's feed). It runs on the main thread for the handshake and `connect`,
 *   then in a media worker when there are workers (docs/adr/0003-rtmp-socket-handover.md);
 * - the **control half** (`RtmpSession`) lives on the main thread with the core and the
 *   applications: the Client, NetConnection/NetStream commands, hooks, statuses.
 *
 * Locally the halves call each other; across threads the same calls are channel messages.
 */
import type { SessionCause } from '../../errors.js';
import type { MediaCommands } from '../flash/SessionMedia.js';
import type { RtmpReaderState } from './RtmpChunkReader.js';

/** What the data half reports. */
export interface RtmpEvents {
  /** An AMF command message (type 20, or 17 with its leading 0 byte) on NetStream `streamId` (0 = NetConnection). */
  onCommand(streamId: number, type: number, payload: Buffer): void;
  /** A ping answered: the round trip in ms. */
  onPing(rtt: number): void;
  /** The data half is gone (peer closed, timeout, protocol error, too slow); `cause` says why. */
  onClosed(cause: SessionCause): void;
}

/** What the control half asks of the data half. */
export interface RtmpCommands extends MediaCommands {
  /** Whole messages already chunked at the session's outgoing chunk size (after the frames queued before). */
  write(bytes: Buffer): void;
  /** Stops reading while a hook is pending (bounded queue), and reads again after. */
  setReading(on: boolean): void;
  /** `connect` was accepted: pings start, the connect deadline is over. */
  connected(): void;
  /** Ends the session; `graceful` lets what was written reach the client first. */
  close(cause: SessionCause, graceful: boolean): void;
}

/** Where the data half stands, to go on in another thread with the socket (RtmpDataSession.handover). */
export interface RtmpDataState {
  reader: RtmpReaderState;
  startedAt: number;
  peerWindowAck: number;
  lastAckSent: number;
  lastPingSent: number;
  lastReception: number;
  /**
   * Bytes the socket had read but the chunk reader had not seen (Node reads ahead up to its
   * high-water mark even while reading is paused for a pending hook): they come right after the
   * reader's state and before anything the new socket reads.
   */
  unread: Uint8Array;
  /** Whether the data half was reading: false while the control half waits on a hook (it says when to go on). */
  reading: boolean;
  /** Traffic of the connection so far (the new side counts on from there): TCP payload bytes read and sent. */
  bytesReceived: number;
  bytesSent: number;
}

export interface RtmpDataOptions {
  chunkSize: number;
  maxMessageSize: number;
  /** Nothing received for this long closes the session (0 = never). */
  timeoutMs: number;
  /** Time from TCP connect to a finished `connect` command. */
  connectTimeoutMs: number;
  /** RTMP.mergeWrite: a player's frames of up to this long leave in one write (0: each turn's at once). */
  mergeWriteMs: number;
}
