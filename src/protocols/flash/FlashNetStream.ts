import type { Listener, ListenerOwner } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { errorMessage } from '../../errors.js';
import { type RecordMode, recordMode } from '../../media/record/Recordings.js';
import type { FlashTransport } from './FlashTransport.js';
import { onStatusCommand, resultCommand, sampleAccess, statusInfo } from './flashStatus.js';

/** Message types shared by RTMP and RTMFP (FLV tag types and AMF messages). */
export const FlashType = {
  USER_CONTROL: 4,
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  COMMAND_AMF3: 17,
  DATA_AMF0: 18,
  COMMAND_AMF0: 20,
} as const;

export const FlashUserControl = {
  STREAM_BEGIN: 0,
  STREAM_EOF: 1,
  STREAM_IS_RECORDED: 4,
} as const;

/**
 * One NetStream of a session, RTMP or RTMFP: publishing, playing or idle (MonaServer's
 * FlashStream): the control plane of it (commands, hooks, statuses). Frames do not pass here:
 * when playing, the transport attached a subscriber to the publication's outputs, which this
 * stream's commands (pause, receiveAudio/Video) and the scripts (`listener.receiveAudio`) steer.
 */
export class FlashNetStream implements ListenerOwner {
  private publication: Publication | null = null;
  private listener: Listener | null = null;
  private name = '';
  private paused = false;

  constructor(
    private readonly transport: FlashTransport,
    readonly id: number,
  ) {}

  get isPublishing(): boolean {
    return this.publication !== null;
  }

  get isPlaying(): boolean {
    return this.listener !== null;
  }

  onCommand(name: string, transactionId: number, args: unknown[]): Promise<void> | null {
    switch (name) {
      case 'publish': {
        return this.publish(typeof args[0] === 'string' ? args[0] : '', recordMode(args[1]));
      }
      case 'play':
      case 'play2': {
        const arg = args[0];
        const streamName =
          typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null && 'streamName' in arg ? String(arg.streamName) : '';
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
            // Video back on starts at the next keyframe (the subscriber's drop policy).
            this.listener.receiveVideo = on;
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
        this.transport.writeCommand(this.id, resultCommand(transactionId, null));
        return null;
      }
    }
  }

  private status(level: 'status' | 'error', code: string, description: string, extra?: Record<string, unknown>): void {
    this.transport.writeCommand(this.id, onStatusCommand(statusInfo(level, code, description, extra)));
  }

  /** publish(name, type): type "record" or "append" also records the stream (Core.publish), "live" does not. */
  private async publish(fullName: string, record: RecordMode | null): Promise<void> {
    if (this.publication !== null || this.listener !== null) {
      this.status('error', 'NetStream.Publish.BadName', 'stream already in use');
      return;
    }
    const name = fullName.split('?')[0];
    const client = this.transport.client;
    try {
      await this.transport.core.publish(client, name, (publication) => {
        this.publication = publication;
        this.name = name;
        this.transport.writeUserControl(FlashUserControl.STREAM_BEGIN, this.id);
        this.status('status', 'NetStream.Publish.Start', `${name} is now published`, { details: name });
        // After the status: the stream's media (some may have come already) goes to the publication.
        this.transport.media.publish(this.id, publication);
      }, record);
    } catch (err) {
      this.transport.media.stopPublishing(this.id);
      this.transport.log.info(`${client.address}: publish ${name} refused: ${errorMessage(err)}`);
      this.status('error', 'NetStream.Publish.BadName', errorMessage(err));
    }
  }

  private async play(fullName: string, reset: boolean): Promise<void> {
    if (this.publication !== null || this.listener !== null) {
      this.status('error', 'NetStream.Play.Failed', 'stream already in use');
      return;
    }
    const client = this.transport.client;
    try {
      await this.transport.core.subscribe(client, fullName, this, (listener) => {
        this.listener = listener;
        this.name = listener.publication.name;
        this.transport.log.info(`${client.address}: playing ${this.name}`);
        this.transport.writeUserControl(FlashUserControl.STREAM_IS_RECORDED, this.id);
        this.transport.writeUserControl(FlashUserControl.STREAM_BEGIN, this.id);
        if (reset) {
          this.status('status', 'NetStream.Play.Reset', `Playing and resetting ${this.name}.`, { details: this.name });
        }
        this.status('status', 'NetStream.Play.Start', `Started playing ${this.name}.`, { details: this.name });
        this.transport.writeData(this.id, sampleAccess());
        if (listener.publication.running) {
          this.status('status', 'NetStream.Play.PublishNotify', `${this.name} is now published.`, { details: this.name });
        }
        // After the statuses: the subscriber gets the cached frames as it joins.
        const subscription = this.transport.media.play(this.id, listener.publication);
        subscription.receiveAudio = listener.receiveAudio;
        subscription.receiveVideo = listener.receiveVideo;
        subscription.paused = this.paused;
        listener.subscription = subscription;
      });
    } catch (err) {
      this.transport.log.info(`${client.address}: play ${fullName} refused: ${errorMessage(err)}`);
      // MonaServer sends level "status"; "error" (as FMS does) makes ffmpeg and other players stop waiting.
      this.status('error', 'NetStream.Play.Failed', errorMessage(err));
    }
  }

  private pause(on: boolean): void {
    if (this.listener === null || on === this.paused) {
      return;
    }
    this.paused = on;
    if (this.listener.subscription !== null) {
      // Unpausing starts at the next keyframe (the subscriber's drop policy).
      this.listener.subscription.paused = on;
    }
    if (on) {
      this.status('status', 'NetStream.Pause.Notify', `Pausing ${this.name}.`);
    } else {
      this.status('status', 'NetStream.Unpause.Notify', `Unpausing ${this.name}.`);
    }
  }

  // ListenerOwner: statuses of the publication this stream plays.
  onPublisherChange(_listener: Listener, running: boolean): void {
    if (running) {
      this.status('status', 'NetStream.Play.PublishNotify', `${this.name} is now published.`, { details: this.name });
    } else {
      this.status('status', 'NetStream.Play.UnpublishNotify', `${this.name} is now unpublished.`, { details: this.name });
    }
  }

  /** closeStream, deleteStream or the end of the session. */
  close(): void {
    const open = !this.transport.isClosed;
    if (this.publication !== null) {
      const publication = this.publication;
      this.publication = null;
      this.transport.media.stopPublishing(this.id);
      this.transport.core.unpublish(publication);
      if (open) {
        this.status('status', 'NetStream.Unpublish.Success', `${this.name} is now unpublished.`, { details: this.name });
      }
    }
    if (this.listener !== null) {
      const listener = this.listener;
      this.listener = null;
      this.transport.media.stopPlaying(this.id);
      listener.subscription = null;
      this.transport.core.unsubscribe(listener);
      if (open) {
        this.status('status', 'NetStream.Play.Stop', `Stopped playing ${this.name}.`, { details: this.name });
      }
    }
  }
}
