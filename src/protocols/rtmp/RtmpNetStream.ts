import type { Listener, MediaSink } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { ProtocolError, errorMessage } from '../../errors.js';
import { FrameKind, MediaFrame } from '../../media/MediaFrame.js';
import type { RtmpMessage } from './RtmpChunkReader.js';
import { encodeMessage, userControl } from './RtmpChunkWriter.js';
import type { RtmpSession } from './RtmpSession.js';
import { unpackAggregate } from './aggregate.js';
import { ChunkStreamId, MessageType, UserControlEvent } from './constants.js';
import { onStatusCommand, resultCommand, sampleAccess, statusInfo } from './rtmpStatus.js';

/** AMF0 "@setDataFrame" string as it prefixes a publisher's metadata: 02 00 0D "@setDataFrame". */
const SET_DATA_FRAME = Buffer.from('02000d40736574446174614672616d65', 'hex');

const csidOf = (kind: FrameKind): number =>
  kind === FrameKind.VIDEO ? ChunkStreamId.VIDEO : kind === FrameKind.AUDIO ? ChunkStreamId.AUDIO : ChunkStreamId.DATA;

/**
 * One NetStream of an RTMP session: either publishing or playing (or idle). As a MediaSink it
 * writes frames to a player; the chunked bytes are memoized on the frame per (chunk size, stream
 * id), so N players of a stream cost one encoding and N socket writes.
 */
export class RtmpNetStream implements MediaSink {
  private publication: Publication | null = null;
  private listener: Listener | null = null;
  private name = '';
  private paused = false;
  private readonly wireKey: string;

  constructor(
    private readonly session: RtmpSession,
    readonly id: number,
  ) {
    this.wireKey = `rtmp:${session.outChunkSize}:${id}`;
  }

  get queuedBytes(): number {
    return this.session.queuedBytes;
  }

  onCommand(name: string, transactionId: number, args: unknown[]): Promise<void> | null {
    switch (name) {
      case 'publish': {
        return this.publish(typeof args[0] === 'string' ? args[0] : '');
      }
      case 'play':
      case 'play2': {
        const arg = args[0];
        const streamName = typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null && 'streamName' in arg ? String(arg.streamName) : '';
        // play(name, start, duration, reset): only live streams exist here; reset=false skips Play.Reset.
        return this.play(streamName, args[3] !== false);
      }
      case 'pause':
      case 'pauseRaw': {
        this.pause(args[0] !== false);
        return null;
      }
      case 'receiveAudio':
      case 'receiveVideo': {
        if (this.listener !== null) {
          const on = args[0] !== false;
          if (name === 'receiveAudio') {
            this.listener.receiveAudio = on;
          } else {
            this.listener.receiveVideo = on;
            if (on) {
              this.listener.drops.waitForKeyframe();
            }
          }
        }
        return null;
      }
      case 'seek': {
        // Live streams cannot seek; FMS answers Seek.Notify for live too, players expect an answer.
        this.status('status', 'NetStream.Seek.Notify', `Seeking ${typeof args[0] === 'number' ? args[0] : 0} (stream ID: ${this.id}).`);
        return null;
      }
      case 'closeStream': {
        this.close();
        return null;
      }
      default: {
        this.session.writeCommand(this.id, resultCommand(transactionId, null));
        return null;
      }
    }
  }

  private status(level: 'status' | 'error', code: string, description: string, extra?: Record<string, unknown>): void {
    this.session.writeCommand(this.id, onStatusCommand(statusInfo(level, code, description, extra)));
  }

  private async publish(fullName: string): Promise<void> {
    if (this.publication !== null || this.listener !== null) {
      this.status('error', 'NetStream.Publish.BadName', 'stream already in use');
      return;
    }
    const name = fullName.split('?')[0];
    const client = this.session.client;
    try {
      await this.session.core.publish(client, name, (publication) => {
        this.publication = publication;
        this.name = name;
        this.session.writeControl(userControl(UserControlEvent.STREAM_BEGIN, this.id));
        this.status('status', 'NetStream.Publish.Start', `${name} is now published`, { details: name });
      });
    } catch (err) {
      this.session.log.info(`${client.address}: publish ${name} refused: ${errorMessage(err)}`);
      this.status('error', 'NetStream.Publish.BadName', errorMessage(err));
    }
  }

  private async play(fullName: string, reset: boolean): Promise<void> {
    if (this.publication !== null || this.listener !== null) {
      this.status('error', 'NetStream.Play.Failed', 'stream already in use');
      return;
    }
    const client = this.session.client;
    try {
      await this.session.core.subscribe(client, fullName, this, (listener) => {
        this.listener = listener;
        this.name = listener.publication.name;
        this.session.log.info(`${client.address}: playing ${this.name}`);
        this.session.writeControl(userControl(UserControlEvent.STREAM_IS_RECORDED, this.id));
        this.session.writeControl(userControl(UserControlEvent.STREAM_BEGIN, this.id));
        if (reset) {
          this.status('status', 'NetStream.Play.Reset', `Playing and resetting ${this.name}.`, { details: this.name });
        }
        this.status('status', 'NetStream.Play.Start', `Started playing ${this.name}.`, { details: this.name });
        this.writeData(sampleAccess());
        if (listener.publication.running) {
          this.status('status', 'NetStream.Play.PublishNotify', `${this.name} is now published.`, { details: this.name });
        }
      });
    } catch (err) {
      this.session.log.info(`${client.address}: play ${fullName} refused: ${errorMessage(err)}`);
      // MonaServer sends level "status"; "error" (as FMS does) makes ffmpeg and other players stop waiting.
      this.status('error', 'NetStream.Play.Failed', errorMessage(err));
    }
  }

  private pause(on: boolean): void {
    if (this.listener === null || on === this.paused) {
      return;
    }
    this.paused = on;
    if (on) {
      this.status('status', 'NetStream.Pause.Notify', `Pausing ${this.name}.`);
    } else {
      this.listener.drops.waitForKeyframe();
      this.status('status', 'NetStream.Unpause.Notify', `Unpausing ${this.name}.`);
    }
  }

  private writeData(payload: Buffer): void {
    this.session.writeRaw(ChunkStreamId.DATA, MessageType.DATA_AMF0, this.id, 0, payload);
  }

  /** Media and data from the client on this stream. */
  onMessage(msg: RtmpMessage): void {
    const publication = this.publication;
    if (publication === null) {
      return;
    }
    switch (msg.type) {
      case MessageType.AUDIO: {
        publication.push(new MediaFrame(FrameKind.AUDIO, msg.timestamp, msg.payload));
        return;
      }
      case MessageType.VIDEO: {
        publication.push(new MediaFrame(FrameKind.VIDEO, msg.timestamp, msg.payload));
        return;
      }
      case MessageType.DATA_AMF0:
      case MessageType.DATA_AMF3: {
        // AMF3 data messages carry one leading 0 byte, then AMF0 values.
        let payload = msg.type === MessageType.DATA_AMF3 ? msg.payload.subarray(1) : msg.payload;
        if (payload.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
          payload = payload.subarray(SET_DATA_FRAME.length);
        }
        publication.push(new MediaFrame(FrameKind.DATA, msg.timestamp, payload));
        return;
      }
      case MessageType.AGGREGATE: {
        const parts = unpackAggregate(msg.payload, msg.timestamp);
        if (parts === null) {
          throw new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'malformed aggregate message');
        }
        for (const part of parts) {
          if (part.type === MessageType.AUDIO || part.type === MessageType.VIDEO || part.type === MessageType.DATA_AMF0) {
            this.onMessage({ csid: msg.csid, type: part.type, streamId: msg.streamId, timestamp: part.timestamp, payload: part.payload });
          }
        }
        return;
      }
      default: {
        this.session.log.debug(`${this.session.client.address}: message type ${msg.type} ignored on stream ${this.id}`);
      }
    }
  }

  // MediaSink: frames of the publication this stream plays.
  writeFrame(frame: MediaFrame): void {
    if (this.paused || this.session.isClosed) {
      return;
    }
    const type = frame.kind === FrameKind.DATA ? MessageType.DATA_AMF0 : frame.kind;
    const bytes = frame.encoded(this.wireKey, (f) =>
      encodeMessage(csidOf(f.kind), type, this.id, f.timestamp, f.payload, this.session.outChunkSize),
    );
    this.session.socket.write(bytes);
  }

  onPublisherChange(_listener: Listener, running: boolean): void {
    if (running) {
      this.status('status', 'NetStream.Play.PublishNotify', `${this.name} is now published.`, { details: this.name });
    } else {
      this.status('status', 'NetStream.Play.UnpublishNotify', `${this.name} is now unpublished.`, { details: this.name });
    }
  }

  onListenerClose(listener: Listener, reason: string): void {
    this.session.core.unsubscribe(listener);
    this.listener = null;
    this.session.close(reason);
  }

  /** closeStream, deleteStream or the end of the session. */
  close(): void {
    if (this.publication !== null) {
      const publication = this.publication;
      this.publication = null;
      this.session.core.unpublish(publication);
      if (!this.session.isClosed) {
        this.status('status', 'NetStream.Unpublish.Success', `${this.name} is now unpublished.`, { details: this.name });
      }
    }
    if (this.listener !== null) {
      const listener = this.listener;
      this.listener = null;
      this.session.core.unsubscribe(listener);
      if (!this.session.isClosed) {
        this.status('status', 'NetStream.Play.Stop', `Stopped playing ${this.name}.`, { details: this.name });
      }
    }
  }
}

