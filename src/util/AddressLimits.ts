/**
 * Per-address limits (issue 14): how many of something (connections, handshakes in flight) one
 * source address holds at once, so that a single address cannot exhaust what every client shares.
 * Loopback addresses are never limited: they are this machine (local tools, load tests, a proxy
 * in front), and a limit there would only get in the way of its owner. Entries leave at zero,
 * so the table holds only addresses that hold something.
 */
export class AddressLimits {
  private readonly held = new Map<string, number>();
  /** Refusals so far (logs, tests). */
  refused = 0;

  /** `max` 0: no limit. */
  constructor(readonly max: number) {}

  /** Takes one for `address`; false when it holds `max` already (nothing is taken then). */
  acquire(address: string): boolean {
    if (this.max === 0 || isLoopback(address)) {
      return true;
    }
    const n = this.held.get(address) ?? 0;
    if (n >= this.max) {
      this.refused++;
      return false;
    }
    this.held.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.held.get(address);
    if (n === undefined) {
      return;
    }
    if (n <= 1) {
      this.held.delete(address);
    } else {
      this.held.set(address, n - 1);
    }
  }

  /** What `address` holds now (tests). */
  holding(address: string): number {
    return this.held.get(address) ?? 0;
  }
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export const isLoopback = (address: string): boolean =>
  address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');

/**
 * A log line that can come thousands of times a second (a refused connection when the process is
 * out of descriptors, a flood of refusals): written at most once per `intervalMs`, with how many
 * were held back since the last one.
 */
export class ThrottledLog {
  private last = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly write: (message: string) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  report(message: string): void {
    const now = this.now();
    if (now - this.last < this.intervalMs) {
      this.held++;
      return;
    }
    const held = this.held;
    this.last = now;
    this.held = 0;
    this.write(held > 0 ? `${message} (and ${held} more in the last ${Math.round(this.intervalMs / 1000)} s)` : message);
  }
}
