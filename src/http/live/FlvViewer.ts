import type { Client } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import type { Listener, ListenerOwner } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { errorMessage } from '../../errors.js';
import type { MediaFrame, WireSlots } from '../../media/MediaFrame.js';
import { Subscriber, type SubscriberSink } from '../../media/Subscriber.js';
import { Logger } from '../../util/Logger.js';
import { FLV_HEADER, flvTagOf } from './flvTag.js';

const log = new Logger('http');

/** Where a viewer's FLV bytes go: a raw HTTP response body or WebSocket binary messages. */
export interface FlvTransport {
  /** Bytes the network has not taken yet (the drop policy's input). */
  readonly queuedBytes: number;
  /** The stream's first bytes (FLV header), written at once. */
  writeHeader(bytes: Buffer): void;
  /** One tag, shared by every viewer: never modified. */
  writeTag(bytes: Buffer): void;
  /** Ends the viewer's connection at once (too slow, the server stops). */
  close(reason: string): void;
  /** Ends it after what is queued (end of the stream). */
  end(): void;
}

/**
 * One HTTP-FLV or WebSocket-FLV viewer: a subscription through the core (so `onSubscribe` decides,
 * with `client.protocol` "HTTP" or "WebSocket"), then a `Subscriber` in the publication's fan-out
 * like an RTMP player's: the same GOP-cache start, drop policy and lag timeout. Each frame is
 * serialized once as an FLV tag for all viewers (`MediaFrame.encoded`).
 */
export class FlvViewer implements SubscriberSink, ListenerOwner {
  private listener: Listener | null = null;
  private subscriber: Subscriber | null = null;
  private closed = false;

  constructor(
    private readonly core: Core,
    readonly client: Client,
    private readonly transport: FlvTransport,
    /** The thread's wire slots (`WireContext.wireSlots`), where the frames keep their FLV tag. */
    private readonly slots: WireSlots,
  ) {}

  /**
   * Subscribes to `fullName` (`name?query`). `accepted` runs once the hook agreed and before the
   * first tag (the protocol writes its status line and headers there); rejects with the hook's
   * RejectionError.
   */
  async start(fullName: string, accepted: () => void): Promise<void> {
    await this.core.subscribe(this.client, fullName, this, (listener) => {
      this.listener = listener;
      if (this.closed) {
        return;
      }
      accepted();
      log.info(`${this.client.protocol} ${this.client.address} plays ${listener.publication.name}`);
      this.transport.writeHeader(flvHeaderFor(listener.publication));
      const subscriber = new Subscriber(this, this.core.limits);
      this.subscriber = subscriber;
      listener.subscription = subscriber;
      listener.publication.feed.subscribers().add(subscriber);
    });
    if (this.closed) {
      this.release();
    }
  }

  get queuedBytes(): number {
    return this.transport.queuedBytes;
  }

  write(frame: MediaFrame): void {
    const tag = flvTagOf(frame, this.slots);
    this.client.traffic.sent += tag.length;
    this.transport.writeTag(tag);
  }

  tooSlow(): void {
    log.warn(`${this.client.protocol} viewer ${this.client.address} of ${this.listener?.publication.name ?? '?'} too slow (MS_ERR_SUBSCRIBER_TOO_SLOW): closed`);
    this.transport.close('too slow');
  }

  /**
   * The publisher left: the stream ends (the response or the WebSocket closes once what is queued
   * left), since HTTP has no status message to say so. A viewer that came before the publisher
   * waits for it.
   */
  onPublisherChange(_listener: Listener, running: boolean): void {
    if (!running && !this.closed) {
      log.info(`${this.client.protocol} ${this.client.address}: ${this.listener?.publication.name ?? '?'} unpublished, end of stream`);
      this.transport.end();
    }
  }

  /** The connection closed: leave the fan-out and the publication. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.release();
  }

  private release(): void {
    this.subscriber?.detach();
    this.subscriber = null;
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) {
      try {
        this.core.unsubscribe(listener);
      } catch (err) {
        log.error(`unsubscribing ${this.client.address}: ${errorMessage(err)}`);
      }
    }
  }
}

/** The FLV header, with the audio/video flags of what the publication carries (players wait for a track the header announces). */
export const flvHeaderFor = (publication: Publication): Buffer => {
  const cache = publication.feed.cache;
  const meta = publication.properties;
  let flags = 0;
  if (cache.audioConfig !== null || (meta !== null && meta.audiocodecid !== undefined)) {
    flags |= 0x04;
  }
  if (cache.hasVideo || (meta !== null && meta.videocodecid !== undefined)) {
    flags |= 0x01;
  }
  const header = Buffer.from(FLV_HEADER);
  header[4] = flags === 0 ? 0x05 : flags;
  return header;
};
