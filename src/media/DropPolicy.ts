import { FrameKind, type MediaFrame } from './MediaFrame.js';

export const Verdict = { SEND: 0, DROP: 1, CLOSE: 2 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * Per-subscriber back-pressure: while the bytes queued for a subscriber exceed the limit, its
 * frames are dropped, and once dropping started it resumes only at a video keyframe (or any frame
 * of an audio-only stream) so the decoder never sees a broken GOP. Decoder configurations and
 * metadata always pass. A subscriber that stays behind longer than `timeoutMs` is to be closed.
 * Fixed shape, no allocation: one instance per subscriber, called once per frame.
 *
 * The fan-out loop asks `sends(queuedBytes)` first: one field compared, no state written, true
 * exactly when `judge` would say SEND without changing anything (nothing queued past the limit, not
 * waiting for a keyframe, not behind); otherwise it calls `judge`.
 */
export class DropPolicy {
  private waitingKeyframe = false;
  private behindSince = 0;
  dropped = 0;
  /** `maxQueuedBytes` while in the steady state (not waiting, not behind), else -1. */
  private fastLimit: number;

  constructor(
    private readonly maxQueuedBytes: number,
    private readonly timeoutMs: number,
  ) {
    this.fastLimit = maxQueuedBytes;
  }

  /** True when a frame is to be sent with no state change (the steady state): `judge` not needed. */
  sends(queuedBytes: number): boolean {
    return queuedBytes <= this.fastLimit;
  }

  judge(frame: MediaFrame, queuedBytes: number, hasVideo: boolean, now: number): Verdict {
    if (frame.isConfig) {
      return Verdict.SEND;
    }
    if (queuedBytes > this.maxQueuedBytes) {
      if (this.behindSince === 0) {
        this.behindSince = now;
      } else if (this.timeoutMs > 0 && now - this.behindSince > this.timeoutMs) {
        return Verdict.CLOSE;
      }
      this.waitingKeyframe = true;
      this.fastLimit = -1;
      this.dropped++;
      return Verdict.DROP;
    }
    if (this.waitingKeyframe) {
      const resumes = frame.kind === FrameKind.VIDEO ? frame.isKeyframe : !hasVideo && frame.kind === FrameKind.AUDIO;
      if (!resumes) {
        this.dropped++;
        return Verdict.DROP;
      }
      this.waitingKeyframe = false;
    }
    this.behindSince = 0;
    this.fastLimit = this.maxQueuedBytes;
    return Verdict.SEND;
  }

  /** A subscriber joining a video stream with no cached GOP must not start mid-GOP. */
  waitForKeyframe(): void {
    this.waitingKeyframe = true;
    this.fastLimit = -1;
  }

  /** A new publisher (or a restart) begins with a keyframe anyway. */
  reset(): void {
    this.waitingKeyframe = false;
    this.behindSince = 0;
    this.fastLimit = this.maxQueuedBytes;
  }
}
