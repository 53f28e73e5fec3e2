/**
 * Cuts timed samples into segments and LL-HLS parts. A video sample's duration is only known
 * when the next one arrives, so the newest video sample waits in `pendingVideo`; cut decisions
 * are taken when a sample arrives, before it joins the stream, so every part and segment starts
 * with that sample (a keyframe whenever possible). Each part is one self-contained fragment and a
 * segment is its parts back to back: with parts off, a segment is one fragment.
 *
 * Bounds: a segment is cut at the first keyframe once `segmentDuration` has elapsed; without
 * keyframes it is cut anyway (not independent then) at `maxSegmentDuration` or `maxSegmentBytes`,
 * so a stream without keyframes (or whose video stalls while audio goes on) never makes memory
 * grow without bound.
 */
import { mediaFragment, type Sample, type TrackFragment } from './fragment.js';
import { AUDIO_TRACK_ID, VIDEO_TIMESCALE, VIDEO_TRACK_ID } from './initSegment.js';

export interface Part {
  data: Buffer;
  /** Seconds. */
  duration: number;
  /** Starts with a keyframe (or holds audio only): EXT-X-PART INDEPENDENT=YES. */
  independent: boolean;
}

export interface Segment {
  /** Media sequence number. */
  seq: number;
  /** Init segment generation (which EXT-X-MAP) the segment decodes with. */
  gen: number;
  /** Follows a new publisher or a new configuration: EXT-X-DISCONTINUITY. */
  discontinuity: boolean;
  /** Media time of the first sample, seconds. */
  start: number;
  /** Seconds, final once the segment is complete. */
  duration: number;
  /** Wall-clock time of `start`, ms since the epoch (EXT-X-PROGRAM-DATE-TIME). */
  programDate: number;
  independent: boolean;
  parts: Part[];
  /** The whole segment once complete (its parts back to back), null while it grows. */
  data: Buffer | null;
  bytes: number;
}

/** The tracks fragments are written for: one init segment generation. */
export interface Rendition {
  gen: number;
  hasVideo: boolean;
  /** Audio timescale, 0 without audio. */
  audioTimescale: number;
}

export interface SegmenterOptions {
  segmentDuration: number;
  /** 0: no parts (one fragment per segment). */
  partDuration: number;
  maxSegmentDuration: number;
  maxSegmentBytes: number;
}

export interface SegmenterEvents {
  /** A part was added to `current`. */
  part(segment: Segment): void;
  /** `segment` is complete (no longer `current`). */
  segment(segment: Segment): void;
}

interface TimedSample extends Sample {
  /** Decode time in the track's timescale. */
  dts: number;
}

/** Tolerance of the duration comparisons, seconds (timestamps are whole milliseconds). */
const EPS = 0.0005;
/** Duration of the last video sample when no next one says (40 ms at 90 kHz). */
const DEFAULT_VIDEO_DURATION = 3600;

export class Segmenter {
  /** The segment being built, null between publishers. */
  current: Segment | null = null;
  private rendition: Rendition | null = null;
  private next: { rendition: Rendition; discontinuity: boolean } | null = null;
  private nextSeq = 0;
  private fragmentSeq = 1;
  private partStart = 0;
  private videoQ: TimedSample[] = [];
  private audioQ: TimedSample[] = [];
  private queuedBytes = 0;
  private pendingVideo: TimedSample | null = null;
  private lastVideoDuration = DEFAULT_VIDEO_DURATION;
  private videoEnd = 0;
  private audioEnd = 0;
  private wallAnchor = { wall: 0, media: 0 };

  constructor(
    private readonly options: SegmenterOptions,
    private readonly events: SegmenterEvents,
  ) {}

  /** Media time (seconds) where the samples pushed so far end: where a new publisher goes on. */
  get endTime(): number {
    return Math.max(this.videoEnd, this.audioEnd, this.current?.start ?? 0);
  }

  /** The sequence number the next segment gets. */
  get nextSequence(): number {
    return this.nextSeq;
  }

  /** Maps media time to wall-clock time from now on (EXT-X-PROGRAM-DATE-TIME). */
  anchor(wallMs: number, mediaSeconds: number): void {
    this.wallAnchor = { wall: wallMs, media: mediaSeconds };
  }

  /**
   * Fragments are written for `rendition` from the next sample that can start a segment on:
   * the next video sample (a keyframe, the caller makes sure), or the next audio sample if the
   * rendition has no video.
   */
  setRendition(rendition: Rendition, discontinuity: boolean): void {
    this.next = { rendition, discontinuity };
  }

  /** A video sample: decode time and composition offset in 90 kHz ticks. */
  pushVideo(dts: number, cts: number, data: Buffer, keyframe: boolean): void {
    const pending = this.pendingVideo;
    if (pending !== null) {
      dts = Math.max(dts, pending.dts + 1); // decode times must increase
      this.queueVideo(pending, dts - pending.dts);
    }
    const t = dts / VIDEO_TIMESCALE;
    const current = this.current;
    if (this.next !== null) {
      this.applyNext(t, keyframe);
    } else if (current === null || this.rendition === null || !this.rendition.hasVideo) {
      return; // no rendition with video yet: the caller starts one at a keyframe
    } else {
      const elapsed = t - current.start;
      if ((keyframe && elapsed >= this.options.segmentDuration - EPS) || elapsed >= this.options.maxSegmentDuration || current.bytes + this.queuedBytes >= this.options.maxSegmentBytes) {
        this.close(t);
        this.open(t, keyframe, false);
      } else if (this.options.partDuration > 0 && this.videoQ.length > 0 && t + this.lastVideoDuration / VIDEO_TIMESCALE - this.partStart > this.options.partDuration + EPS) {
        this.flushPart(t); // the part would outgrow PART-TARGET with this sample
      }
    }
    this.pendingVideo = { dts, cts, data, sync: keyframe, duration: 0 };
  }

  /** An audio sample: decode time and duration in the rendition's audio timescale. */
  pushAudio(dts: number, duration: number, data: Buffer): void {
    if (this.next !== null && !this.next.rendition.hasVideo) {
      this.finishPendingVideo();
      this.applyNext(dts / this.next.rendition.audioTimescale, true);
    }
    const rendition = this.rendition;
    const current = this.current;
    if (rendition === null || current === null || rendition.audioTimescale === 0) {
      return;
    }
    const last = this.audioQ.length > 0 ? this.audioQ[this.audioQ.length - 1] : null;
    if (last !== null) {
      // Within a fragment samples are contiguous: a gap lengthens the previous sample.
      if (dts > last.dts) {
        last.duration = dts - last.dts;
      } else {
        dts = last.dts + last.duration;
      }
    }
    const t = dts / rendition.audioTimescale;
    const elapsed = t - current.start;
    if (rendition.hasVideo) {
      if (elapsed >= this.options.maxSegmentDuration || current.bytes + this.queuedBytes >= this.options.maxSegmentBytes) {
        // Video stalled: close the segment anyway so audio goes on and memory stays bounded.
        this.finishPendingVideo();
        const end = Math.max(t, this.videoEnd);
        this.close(end);
        this.open(end, false, false);
      }
    } else if (elapsed >= this.options.segmentDuration - EPS || current.bytes + this.queuedBytes >= this.options.maxSegmentBytes) {
      this.close(t);
      this.open(t, true, false);
    } else if (this.options.partDuration > 0 && this.audioQ.length > 0 && t + duration / rendition.audioTimescale - this.partStart > this.options.partDuration + EPS) {
      this.flushPart(t);
    }
    this.audioQ.push({ dts, duration, data, cts: 0, sync: true });
    this.queuedBytes += data.length;
    this.audioEnd = Math.max(this.audioEnd, (dts + duration) / rendition.audioTimescale);
  }

  /** The publisher left: completes the current segment with what was pushed. */
  flush(): void {
    this.finishPendingVideo();
    const current = this.current;
    if (current !== null) {
      const hasVideo = this.rendition?.hasVideo === true && this.videoEnd > current.start;
      this.close(hasVideo ? this.videoEnd : Math.max(this.audioEnd, this.videoEnd));
    }
  }

  private queueVideo(sample: TimedSample, duration: number): void {
    sample.duration = duration;
    this.lastVideoDuration = duration;
    this.videoQ.push(sample);
    this.queuedBytes += sample.data.length;
    this.videoEnd = (sample.dts + duration) / VIDEO_TIMESCALE;
    this.pendingVideo = null;
  }

  private finishPendingVideo(): void {
    if (this.pendingVideo !== null) {
      this.queueVideo(this.pendingVideo, this.lastVideoDuration);
    }
  }

  private applyNext(t: number, independent: boolean): void {
    const next = this.next;
    if (next === null) {
      return;
    }
    if (this.current !== null) {
      this.close(t);
    }
    this.next = null;
    this.rendition = next.rendition;
    this.open(t, independent, next.discontinuity);
  }

  private open(t: number, independent: boolean, discontinuity: boolean): void {
    this.current = {
      seq: this.nextSeq++,
      gen: this.rendition?.gen ?? 0,
      discontinuity,
      start: t,
      duration: 0,
      programDate: Math.round(this.wallAnchor.wall + (t - this.wallAnchor.media) * 1000),
      independent,
      parts: [],
      data: null,
      bytes: 0,
    };
    this.partStart = t;
  }

  private flushPart(t: number): void {
    const current = this.current;
    if (current === null || (this.videoQ.length === 0 && this.audioQ.length === 0)) {
      return;
    }
    const tracks: TrackFragment[] = [];
    if (this.videoQ.length > 0) {
      tracks.push({ trackId: VIDEO_TRACK_ID, baseDecodeTime: this.videoQ[0].dts, samples: this.videoQ, hasCts: true });
    }
    if (this.audioQ.length > 0) {
      tracks.push({ trackId: AUDIO_TRACK_ID, baseDecodeTime: this.audioQ[0].dts, samples: this.audioQ, hasCts: false });
    }
    const data = mediaFragment(this.fragmentSeq++, tracks);
    const independent = this.videoQ.length > 0 ? this.videoQ[0].sync : this.rendition?.hasVideo !== true;
    current.parts.push({ data, duration: Math.max(0, t - this.partStart), independent });
    current.bytes += data.length;
    this.partStart = t;
    this.videoQ = [];
    this.audioQ = [];
    this.queuedBytes = 0;
    this.events.part(current);
  }

  private close(t: number): void {
    const segment = this.current;
    if (segment === null) {
      return;
    }
    this.flushPart(t);
    this.current = null;
    if (segment.parts.length === 0) {
      this.nextSeq--; // nothing was pushed into it: the number is not used
      return;
    }
    segment.duration = Math.max(t - segment.start, EPS);
    const data = segment.parts.length === 1 ? segment.parts[0].data : Buffer.concat(segment.parts.map((p) => p.data));
    // Parts become views of the segment: served as long as it is, without a second copy.
    let offset = 0;
    for (const part of segment.parts) {
      const size = part.data.length;
      part.data = data.subarray(offset, offset + size);
      offset += size;
    }
    segment.data = data;
    this.events.segment(segment);
  }
}
