/**
 * Live heap of a server process, measured in it (benchmark-only, memProbe.mjs): RSS growth also
 * counts the heap V8 keeps for garbage (a young generation grown to its maximum by allocation churn,
 * old-space slack between collections), so the benchmarks report heapUsed after a forced GC too.
 */
import { pathToFileURL } from 'node:url';
import type { ServerHandle } from './proc.js';
import { sleep } from './proc.js';

/** Node options that load the probe into the server (its main thread and every worker thread). */
export const memProbeNodeArgs = (): string[] => ['--expose-gc', '--import', pathToFileURL(new URL('./memProbe.mjs', import.meta.url).pathname).href];

export interface ThreadMemory {
  thread: number;
  /** Whether the GC ran (false without --expose-gc: heapUsed then includes garbage). */
  gc: boolean;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  newSpace: number;
  oldSpace: number;
}

export interface ServerMemory {
  rssKiB: number;
  /** Resident KiB by kind of mapping: brk (main malloc heap), anon (V8 pages, thread arenas), file. */
  resident: { brk?: number; anon?: number; file?: number };
  threads: ThreadMemory[];
  /** Sums over the threads, KiB. */
  heapUsedKiB: number;
  heapTotalKiB: number;
  externalKiB: number;
  newSpaceKiB: number;
}

/** NIMBUS_MEM_PROBE_SNAPSHOTS=<dir>: the server also writes heap snapshots of every thread there (slow). */
const snapshotting = (): boolean => (process.env.NIMBUS_MEM_PROBE_SNAPSHOTS ?? '') !== '';

const LINE = /^nimbus-mem (\{.*\})$/gm;

/**
 * Asks the server (started with `memProbeNodeArgs()`) for a measurement: SIGUSR2, then the
 * `nimbus-mem` line it prints. Rejects after `timeoutMs`.
 */
export const readServerMemory = async (server: ServerHandle, timeoutMs = snapshotting() ? 300_000 : 10_000): Promise<ServerMemory> => {
  // Each report carries its round number: wait for one newer than any seen before the signal.
  type Report = { round: number; rssKiB: number; resident: ServerMemory['resident']; threads: ThreadMemory[] };
  const reports = (): Report[] => [...server.output().matchAll(LINE)].map((m) => JSON.parse(m[1]) as Report);
  const seen = Math.max(0, ...reports().map((r) => r.round));
  server.child.kill('SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(100);
    const raw = reports().find((r) => r.round > seen);
    if (raw !== undefined) {
      const sum = (f: (t: ThreadMemory) => number): number => Math.round(raw.threads.reduce((a, t) => a + f(t), 0) / 1024);
      return {
        rssKiB: raw.rssKiB,
        resident: raw.resident,
        threads: raw.threads,
        heapUsedKiB: sum((t) => t.heapUsed),
        heapTotalKiB: sum((t) => t.heapTotal),
        externalKiB: sum((t) => t.external),
        newSpaceKiB: sum((t) => t.newSpace),
      };
    }
  }
  throw new Error(`no memory report from the server within ${timeoutMs} ms (was it started with memProbeNodeArgs()?)`);
};
