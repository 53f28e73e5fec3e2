import type { SubscriptionControl } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { FrameKind, MediaFrame } from '../../media/MediaFrame.js';
import type { MediaFeed } from '../../media/MediaFeed.js';
import { Subscriber, type SubscriberSink } from '../../media/Subscriber.js';

/** AMF0 "@setDataFrame" string as it prefixes a publisher's metadata: 02 00 0D "@setDataFrame". */
const SET_DATA_FRAME = Buffer.from('02000d40736574446174614672616d65', 'hex');

/** Flash message types that carry media (FLV tag types) and data. */
const AUDIO = 8;
const VIDEO = 9;
const DATA_AMF3 = 15;
const DATA_AMF0 = 18;

/** Media a client may send on a stream before its publish is accepted (the hook is pending). */
const MAX_EARLY_MESSAGES = 256;
const MAX_EARLY_BYTES = 4 * 1024 * 1024;

/** Where a publishing stream's frames go: the Publication on the main thread, a mirror in a media worker. */
export interface FrameTarget {
  push(frame: MediaFrame): void;
}

/**
 * What a control half asks of its data half about media (local call, or a message to the media
 * worker that owns the session: protocols/worker/RemoteMedia.ts).
 */
export interface MediaCommands {
  /** NetStream `streamId` plays `publication`: a subscriber joins its outputs on the data half's thread. */
  play(streamId: number, publication: Publication): SubscriptionControl;
  stopPlaying(streamId: number): void;
  /** NetStream `streamId` publishes `publication` (the hook agreed): its media flows into it. */
  publish(streamId: number, publication: Publication): void;
  stopPublishing(streamId: number): void;
}

/** True for the message types `SessionMedia.onMessage` takes. */
export const isMediaMessage = (type: number): boolean => type === AUDIO || type === VIDEO || type === DATA_AMF0 || type === DATA_AMF3;

/**
 * The media of one session's NetStreams on the thread of its socket, for RTMP and RTMFP alike:
 * the subscribers of its playing streams (sinks made by the protocol), and its publishing
 * streams, whose messages become frames pushed to their target. Media that arrives on a stream
 * before its publish was accepted waits (bounded) and follows in order once it is.
 */
export class SessionMedia {
  private readonly players = new Map<number, Subscriber>();
  private readonly publishing = new Map<number, FrameTarget>();
  private readonly early = new Map<number, { messages: [number, number, Buffer][]; bytes: number }>();

  constructor(
    /** The protocol's sink for a playing stream. */
    private readonly sinkFor: (streamId: number) => SubscriberSink,
    /** A stream stopped playing, whichever thread or path stopped it (RTMFP ends its media flows). */
    private readonly onStopped: ((streamId: number) => void) | null = null,
  ) {}

  play(streamId: number, feed: MediaFeed): Subscriber {
    this.stopPlaying(streamId);
    const subscriber = new Subscriber(this.sinkFor(streamId), feed.limits);
    this.players.set(streamId, subscriber);
    feed.subscribers().add(subscriber);
    return subscriber;
  }

  player(streamId: number): Subscriber | undefined {
    return this.players.get(streamId);
  }

  stopPlaying(streamId: number): void {
    const subscriber = this.players.get(streamId);
    if (subscriber !== undefined) {
      this.players.delete(streamId);
      subscriber.detach();
      this.onStopped?.(streamId);
    }
  }

  /** Whether anything plays, publishes or waits here. */
  get busy(): boolean {
    return this.players.size > 0 || this.publishing.size > 0 || this.early.size > 0;
  }

  get playingStreams(): IterableIterator<[number, Subscriber]> {
    return this.players.entries();
  }

  publish(streamId: number, target: FrameTarget): void {
    this.publishing.set(streamId, target);
    const early = this.early.get(streamId);
    if (early !== undefined) {
      this.early.delete(streamId);
      for (const [type, timestamp, payload] of early.messages) {
        this.onMessage(streamId, type, timestamp, payload);
      }
    }
  }

  stopPublishing(streamId: number): void {
    this.publishing.delete(streamId);
    this.early.delete(streamId);
  }

  /** A media or data message (type 8, 9, 15 or 18) from the client on NetStream `streamId`. */
  onMessage(streamId: number, type: number, timestamp: number, payload: Buffer): void {
    const target = this.publishing.get(streamId);
    if (target === undefined) {
      this.keepEarly(streamId, type, timestamp, payload);
      return;
    }
    switch (type) {
      case AUDIO: {
        target.push(new MediaFrame(FrameKind.AUDIO, timestamp, payload));
        return;
      }
      case VIDEO: {
        target.push(new MediaFrame(FrameKind.VIDEO, timestamp, payload));
        return;
      }
      default: {
        // AMF3 data messages carry one leading 0 byte, then AMF0 values.
        let data = type === DATA_AMF3 ? payload.subarray(1) : payload;
        if (data.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
          data = data.subarray(SET_DATA_FRAME.length);
        }
        target.push(new MediaFrame(FrameKind.DATA, timestamp, data));
      }
    }
  }

  private keepEarly(streamId: number, type: number, timestamp: number, payload: Buffer): void {
    if (streamId === 0) {
      return;
    }
    let early = this.early.get(streamId);
    if (early === undefined) {
      early = { messages: [], bytes: 0 };
      this.early.set(streamId, early);
    }
    if (early.messages.length < MAX_EARLY_MESSAGES && early.bytes + payload.length <= MAX_EARLY_BYTES) {
      early.messages.push([type, timestamp, payload]);
      early.bytes += payload.length;
    }
  }

  /** The session ended: no more frames either way. */
  close(): void {
    for (const subscriber of this.players.values()) {
      subscriber.detach();
    }
    this.players.clear();
    this.publishing.clear();
    this.early.clear();
  }
}
