/**
 * Latency histogram with 1 % relative resolution (log buckets from 1 µs to ~100 s), mergeable
 * across processes by adding the counts, and a plain text table.
 */
const GROWTH = Math.log(1.01);
const MIN_US = 1;
export const HISTOGRAM_BUCKETS = Math.ceil(Math.log(100e6 / MIN_US) / GROWTH) + 1;

export class LatencyHistogram {
  readonly counts: Uint32Array;
  count = 0;
  max = 0;
  sum = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Uint32Array(HISTOGRAM_BUCKETS);
    if (counts !== undefined) {
      this.counts.set(counts);
      for (let i = 0; i < this.counts.length; i++) {
        this.count += this.counts[i];
      }
    }
  }

  /** Adds one latency in milliseconds (clamped to the histogram's range). */
  add(ms: number): void {
    const us = ms * 1000;
    const bucket = us <= MIN_US ? 0 : Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(Math.log(us / MIN_US) / GROWTH));
    this.counts[bucket]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) {
      this.max = ms;
    }
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] += other.counts[i];
    }
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  /** The q-quantile (0..1) in milliseconds (upper edge of its bucket), NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) {
      return Number.NaN;
    }
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        return (MIN_US * Math.exp((i + 1) * GROWTH)) / 1000;
      }
    }
    return this.max;
  }

  /** Counts as a sparse list [bucket, count, ...] (for IPC and JSON). */
  toSparse(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i] !== 0) {
        out.push(i, this.counts[i]);
      }
    }
    return out;
  }

  static fromSparse(sparse: number[], max: number, sum: number): LatencyHistogram {
    const h = new LatencyHistogram();
    for (let i = 0; i + 1 < sparse.length; i += 2) {
      h.counts[sparse[i]] += sparse[i + 1];
      h.count += sparse[i + 1];
    }
    h.max = max;
    h.sum = sum;
    return h;
  }
}

export const geometricMean = (values: number[]): number => {
  const ok = values.filter((v) => Number.isFinite(v) && v > 0);
  return ok.length === 0 ? Number.NaN : Math.exp(ok.reduce((a, v) => a + Math.log(v), 0) / ok.length);
};

/** Fixed-width text table; numbers are right-aligned, text left-aligned. */
export const formatTable = (header: string[], rows: Array<Array<string | number>>): string => {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? String(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => typeof r[i] === 'number' || /^[-+≥≤~]?[\d.]+[a-zµ%x]*$|^-$/.test(String(r[i]))));
  const line = (r: string[]): string =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
};

/** `x` with `digits` significant-ish decimals, or "-" when not a finite number. */
export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
