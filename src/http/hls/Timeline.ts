/**
 * Time bases. RTMP timestamps are 32-bit milliseconds that wrap after 49.7 days and may jump
 * when a publisher resets its clock; fMP4 decode times must grow steadily in each track's
 * timescale. `TimestampUnwrapper` makes one continuous millisecond timeline for all tracks of a
 * publisher; `AudioClock` times audio by sample count (exact) and follows the millisecond clock
 * only when they drift apart (a gap in the audio, a clock that runs differently).
 */

/** A step larger than this is a publisher clock reset, not elapsed time. */
export const MAX_TIMESTAMP_JUMP_MS = 10_000;

export class TimestampUnwrapper {
  private last: number | null = null;
  private extended = 0;

  /** The continuous timeline value of a 32-bit timestamp (shared by audio and video). */
  unwrap(raw: number): number {
    const last = this.last;
    if (last === null) {
      this.extended = raw;
    } else {
      // The signed 32-bit difference: across a wrap it is the small step it really is, and audio
      // interleaved slightly behind video comes out as a small negative step.
      const delta = (raw - last) | 0;
      if (Math.abs(delta) <= MAX_TIMESTAMP_JUMP_MS) {
        this.extended += delta;
      }
    }
    this.last = raw >>> 0;
    return this.extended;
  }

  reset(): void {
    this.last = null;
    this.extended = 0;
  }
}

export class AudioClock {
  private next: number | null = null;

  constructor(readonly rate: number) {}

  /**
   * Decode time (in samples) of a frame of `samples` samples stamped `ms` on the media timeline:
   * the end of the previous frame, unless the timestamp says it is off by more than two frames
   * (or 50 ms), where the timestamp wins.
   */
  place(ms: number, samples: number): number {
    const actual = Math.round((ms * this.rate) / 1000);
    const tolerance = Math.max(2 * samples, this.rate / 20);
    if (this.next === null || Math.abs(actual - this.next) > tolerance) {
      this.next = actual;
    }
    const dts = this.next;
    this.next += samples;
    return dts;
  }
}
