import { FrameKind, type MediaFrame } from './MediaFrame.js';

/**
 * What a late joiner needs to start playing at once: the metadata, the audio and video decoder
 * configurations, and the frames since the last video keyframe (the GOP). Bounded in bytes: a
 * GOP larger than the limit is dropped and the cache waits for the next keyframe.
 */
export class FrameCache {
  metadata: MediaFrame | null = null;
  audioConfig: MediaFrame | null = null;
  videoConfig: MediaFrame | null = null;
  /** True once any video frame was seen: audio-only streams have no GOP to wait for. */
  hasVideo = false;
  private gop: MediaFrame[] = [];
  private gopBytes = 0;
  private gopValid = false;

  constructor(
    private readonly gopEnabled: boolean,
    private readonly maxGopBytes: number,
  ) {}

  add(frame: MediaFrame): void {
    if (frame.kind === FrameKind.DATA) {
      if (frame.isMetadata) {
        this.metadata = frame;
      }
      return;
    }
    if (frame.isSequenceHeader) {
      if (frame.kind === FrameKind.VIDEO) {
        this.videoConfig = frame;
        this.hasVideo = true;
      } else {
        this.audioConfig = frame;
      }
      return;
    }
    if (!this.gopEnabled) {
      return;
    }
    if (frame.kind === FrameKind.VIDEO) {
      this.hasVideo = true;
      if (frame.isKeyframe) {
        this.gop = [];
        this.gopBytes = 0;
        this.gopValid = true;
      }
    }
    if (!this.gopValid) {
      return;
    }
    this.gopBytes += frame.payload.length;
    if (this.gopBytes > this.maxGopBytes) {
      this.clearGop();
      return;
    }
    this.gop.push(frame);
  }

  /** Frames to send a new subscriber before live frames, in order. */
  snapshot(): MediaFrame[] {
    const frames: MediaFrame[] = [];
    if (this.metadata !== null) {
      frames.push(this.metadata);
    }
    if (this.videoConfig !== null) {
      frames.push(this.videoConfig);
    }
    if (this.audioConfig !== null) {
      frames.push(this.audioConfig);
    }
    if (this.gopValid) {
      for (const f of this.gop) {
        frames.push(f);
      }
    }
    return frames;
  }

  get gopFrameCount(): number {
    return this.gopValid ? this.gop.length : 0;
  }

  clearGop(): void {
    this.gop = [];
    this.gopBytes = 0;
    this.gopValid = false;
  }

  /** Publisher left: configs and GOP belong to that publishing session only. */
  reset(): void {
    this.metadata = null;
    this.audioConfig = null;
    this.videoConfig = null;
    this.hasVideo = false;
    this.clearGop();
  }
}
