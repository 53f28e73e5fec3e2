import { DropPolicy, Verdict } from '../media/DropPolicy.js';
import { FrameKind, type MediaFrame } from '../media/MediaFrame.js';

/** Publications tracked per link before the table starts over (names come from scripts). */
const MAX_PUBLICATIONS = 4096;

interface Entry {
  readonly policy: DropPolicy;
  video: boolean;
}

/**
 * The bounded queue of one mesh link (an improvement over MonaServer, whose links queue without
 * limit): messages sent while a script handles a media frame are that frame's media, and once the
 * link's unsent bytes pass the limit they are dropped, per publication, up to the next keyframe
 * (the media layer's DropPolicy). Decoder configurations and metadata always pass, and so does
 * every other message: control is never dropped.
 */
export class MediaGate {
  private readonly entries = new Map<string, Entry>();
  dropped = 0;

  constructor(private readonly maxQueuedBytes: number) {}

  /** True when the message for `frame` of `publication` may be written now. */
  admit(publication: string, frame: MediaFrame, queuedBytes: number): boolean {
    if (frame.isConfig) {
      return true;
    }
    let entry = this.entries.get(publication);
    if (entry === undefined) {
      if (queuedBytes <= this.maxQueuedBytes && frame.kind !== FrameKind.VIDEO) {
        return true;
      }
      if (this.entries.size >= MAX_PUBLICATIONS) {
        this.entries.clear();
      }
      entry = { policy: new DropPolicy(this.maxQueuedBytes, 0), video: false };
      this.entries.set(publication, entry);
    }
    if (frame.kind === FrameKind.VIDEO) {
      entry.video = true;
    }
    const send = entry.policy.judge(frame, queuedBytes, entry.video, Date.now()) === Verdict.SEND;
    if (!send) {
      this.dropped++;
    }
    return send;
  }
}
