/**
 * Benchmark-only memory probe, preloaded into a server process with
 * `node --expose-gc --import <this file>` (see heapProbe.ts). Nothing in Nimbus knows about it.
 *
 * On SIGUSR2 the main thread and every worker thread (the probe wraps `worker_threads.Worker` so
 * that each worker loads it first) run a full garbage collection, then report their heap: the main
 * thread prints one line on stderr, `nimbus-mem <json>`, with the process RSS and per thread the
 * live heap (heapUsed after the GC), the heap V8 has reserved (heapTotal), the new space's size
 * and external/ArrayBuffer memory. Measuring costs a GC pause per thread (tens of ms).
 *
 * With NIMBUS_MEM_PROBE_SNAPSHOTS=<dir> in its environment, the server also writes a heap snapshot
 * of the main thread and of each worker thread into <dir> after each measurement (slow: seconds).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { pipeline } from 'node:stream/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

const CHANNEL = 'nimbus-bench-mem-probe';
/** How long the main thread waits for the workers' answers. */
const ANSWER_MS = 1500;
const probeUrl = import.meta.url;

const measure = () => {
  const gc = globalThis.gc;
  if (typeof gc === 'function') {
    // Twice: the first pass may only make objects with finalizers collectable.
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  return {
    thread: threadId,
    gc: typeof gc === 'function',
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    newSpace: spaces.new_space?.size ?? 0,
    oldSpace: spaces.old_space?.size ?? 0,
  };
};

/**
 * Resident KiB of the process by kind of mapping (Linux /proc/self/smaps): `brk` is the main
 * malloc heap, `anon` every other anonymous mapping (V8's heap pages, other threads' malloc
 * arenas, large mallocs), `file` code and data of files; {} where /proc is not there.
 */
const residentByKind = () => {
  const out = { brk: 0, anon: 0, file: 0 };
  let kind = 'anon';
  try {
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
      if (header !== null) {
        const path = header[1];
        kind = path === '[heap]' ? 'brk' : path === '' || path.startsWith('[') ? 'anon' : 'file';
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss !== null) {
        out[kind] += Number(rss[1]);
      }
    }
  } catch {
    return {};
  }
  return out;
};

const channel = new BroadcastChannel(CHANNEL);
channel.unref();

if (isMainThread) {
  // Each worker loads the probe before its entry module.
  const require = createRequire(import.meta.url);
  const workerThreads = require('node:worker_threads');
  const Original = workerThreads.Worker;
  const workers = new Set();
  workerThreads.Worker = class ProbedWorker extends Original {
    constructor(entry, options = {}) {
      const code = options.eval === true ? `(${String(entry)})` : `import(${JSON.stringify(String(entry instanceof URL ? entry.href : new URL(String(entry), `file://${process.cwd()}/`).href))})`;
      super(`import(${JSON.stringify(probeUrl)}).then(() => ${code})`, { ...options, eval: true });
      workers.add(this);
      this.once('exit', () => workers.delete(this));
    }
  };
  const snapshotDir = process.env.NIMBUS_MEM_PROBE_SNAPSHOTS;
  const snapshots = async (id) => {
    writeHeapSnapshot(`${snapshotDir}/round${id}-thread0.heapsnapshot`);
    for (const worker of workers) {
      await pipeline(await worker.getHeapSnapshot(), createWriteStream(`${snapshotDir}/round${id}-thread${worker.threadId}.heapsnapshot`));
    }
  };
  syncBuiltinESMExports();

  let round = 0;
  const answers = new Map();
  channel.onmessage = (event) => {
    const data = event.data;
    if (data?.op === 'answer') {
      answers.get(data.round)?.push(data.stats);
    }
  };
  process.on('SIGUSR2', () => {
    const id = ++round;
    const threads = [measure()];
    answers.set(id, threads);
    channel.postMessage({ op: 'measure', round: id });
    // Answers arrive as the workers get to them; a busy worker may take a while.
    setTimeout(() => {
      answers.delete(id);
      const rssKiB = Math.round(process.memoryUsage().rss / 1024);
      const resident = residentByKind();
      const report = () => process.stderr.write(`nimbus-mem ${JSON.stringify({ round: id, rssKiB, resident, threads })}\n`);
      if (snapshotDir === undefined || snapshotDir === '') {
        report();
      } else {
        snapshots(id).then(report, (err) => process.stderr.write(`memProbe: heap snapshots failed: ${err}\n`));
      }
    }, ANSWER_MS).unref();
  });
} else {
  channel.onmessage = (event) => {
    const data = event.data;
    if (data?.op === 'measure') {
      channel.postMessage({ op: 'answer', round: data.round, stats: measure() });
    }
  };
}
