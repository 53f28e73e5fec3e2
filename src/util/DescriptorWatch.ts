import { readFileSync, readdirSync } from 'node:fs';

/** At or above this share of the soft limit the process counts as out of descriptors. */
const FULL_SHARE = 0.98;

/**
 * Watches this process's file descriptors (Linux: /proc/self): when `ulimit -n` is (nearly)
 * reached, libuv accepts each new connection and closes it at once without telling Node, so
 * without this the server would refuse clients in silence. Checked once a second, reported at
 * most once a second; the sessions already open are not touched.
 */
export class DescriptorWatch {
  private timer: NodeJS.Timeout | null = null;
  /** The last limit read (reading it needs a descriptor too). */
  private limit = 0;

  constructor(private readonly report: (message: string) => void) {}

  /** Whether this platform lets the watch count (no /proc: it does nothing). */
  get available(): boolean {
    return softLimit() > 0;
  }

  start(): void {
    this.limit = softLimit();
    if (this.limit === 0 || this.timer !== null) {
      return;
    }
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  check(): void {
    // Read each time: the limit can change under a running process (prlimit). Without a
    // descriptor to read it with, the last one read stands, and the process is full.
    const read = softLimit();
    const limit = read > 0 ? read : this.limit;
    this.limit = limit;
    if (limit === 0) {
      return;
    }
    let used: number;
    try {
      used = read > 0 ? readdirSync('/proc/self/fd').length : limit;
    } catch {
      // Counting needs a descriptor too: failing here is itself the sign.
      used = limit;
    }
    if (used >= limit * FULL_SHARE) {
      const count = read > 0 ? `${used} of ${limit} in use` : 'none left';
      this.report(`out of file descriptors (${count}, ulimit -n); new connections are refused until some close`);
    }
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** The soft RLIMIT_NOFILE of this process, or 0 when it cannot be read. */
function softLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const value = line === undefined ? Number.NaN : Number(line.split(/\s{2,}/)[1]);
    return Number.isFinite(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}
