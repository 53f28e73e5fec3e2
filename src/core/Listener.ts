import { DropPolicy } from '../media/DropPolicy.js';
import type { MediaFrame } from '../media/MediaFrame.js';
import type { Client } from './Client.js';
import type { Publication } from './Publication.js';

/**
 * Where a subscriber's frames go: implemented by each protocol (RTMP player session, RTMFP flow,
 * mesh relay). `queuedBytes` lets the core apply the drop policy without knowing the transport.
 */
export interface MediaSink {
  /** Bytes accepted but not yet sent to the network (socket buffer, flow window...). */
  readonly queuedBytes: number;
  writeFrame(frame: MediaFrame, listener: Listener): void;
  /** The publication got a publisher (NetStream.Play.PublishNotify) or lost it (UnpublishNotify). */
  onPublisherChange(listener: Listener, running: boolean): void;
  /** The listener stayed behind past the timeout or the publication closed it. */
  onListenerClose(listener: Listener, reason: string): void;
}

/**
 * A sink's direct frame path (optional; RTMP players have one): while `Listener.outlet` is set, the
 * fan-out loop reads `queuedBytes` and calls `writeFrame` here rather than on the sink, which is
 * the same thing through one small object instead of a chain of them. The sink sets and clears it
 * (cleared whenever the sink's own `writeFrame` would not write, e.g. paused).
 */
export interface FrameOutlet {
  readonly queuedBytes: number;
  writeFrame(frame: MediaFrame): void;
}

/** A subscription of one client to one publication (MonaServer's `listener`). */
export class Listener {
  receiveAudio = true;
  receiveVideo = true;
  /** No more frames are written (unsubscribed, or closed for lagging). */
  closed = false;
  /** `Core.unsubscribe` ran (the onUnsubscribe hook fires once). */
  released = false;
  readonly drops: DropPolicy;
  /** The sink's direct frame path, or null (then `sink.queuedBytes` and `sink.writeFrame`). */
  outlet: FrameOutlet | null = null;

  constructor(
    readonly client: Client | null,
    readonly publication: Publication,
    readonly sink: MediaSink,
    /** Query after the stream name (`name?a=1` → { a: '1' }). */
    readonly parameters: Record<string, string>,
    maxQueuedBytes: number,
    timeoutMs: number,
  ) {
    this.drops = new DropPolicy(maxQueuedBytes, timeoutMs);
  }

  get droppedFrames(): number {
    return this.drops.dropped;
  }
}
