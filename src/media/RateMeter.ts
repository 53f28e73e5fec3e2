import { FrameKind } from './MediaFrame.js';

/** How far back rates look: a few seconds smooth a GOP's burst without hiding a stall for long. */
const WINDOW_MS = 3000;
const SAMPLES = 4;

/**
 * Byte rate per media kind and video frame rate of one publication, for the stats API, metrics
 * and scripts' QOS objects. Counting is two additions per frame; a sample of the totals is kept
 * at most once a second (on a frame or a read), and a rate is the difference across the window.
 */
export class RateMeter {
  /** Totals: audio, video, data bytes, then video frames. */
  private readonly totals = [0, 0, 0, 0];
  private readonly times: number[] = [];
  private readonly samples: number[][] = [];
  private lastSample = 0;

  add(kind: number, bytes: number, now: number): void {
    const totals = this.totals;
    if (kind === FrameKind.VIDEO) {
      totals[1] += bytes;
      totals[3]++;
    } else if (kind === FrameKind.AUDIO) {
      totals[0] += bytes;
    } else {
      totals[2] += bytes;
    }
    if (now - this.lastSample >= 1000) {
      this.sample(now);
    }
  }

  private sample(now: number): void {
    this.lastSample = now;
    this.times.push(now);
    this.samples.push([...this.totals]);
    if (this.times.length > SAMPLES) {
      this.times.shift();
      this.samples.shift();
    }
  }

  reset(): void {
    this.totals.fill(0);
    this.times.length = 0;
    this.samples.length = 0;
    this.lastSample = 0;
  }

  /** Per second over the last few seconds: [audio bytes, video bytes, data bytes, video frames]. */
  rates(now = Date.now()): number[] {
    if (now - this.lastSample >= 1000) {
      this.sample(now);
    }
    let i = 0;
    while (i < this.times.length - 1 && now - this.times[i] > WINDOW_MS + 1000) {
      i++;
    }
    const span = now - this.times[i];
    if (span <= 0 || this.times.length < 2) {
      return [0, 0, 0, 0];
    }
    const from = this.samples[i];
    return this.totals.map((t, k) => ((t - from[k]) * 1000) / span);
  }

  get audioByteRate(): number {
    return this.rates()[0];
  }

  get videoByteRate(): number {
    return this.rates()[1];
  }

  get dataByteRate(): number {
    return this.rates()[2];
  }

  get frameRate(): number {
    return this.rates()[3];
  }
}
