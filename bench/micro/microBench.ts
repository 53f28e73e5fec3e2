/**
 * Micro-benchmark harness (style rule 15): one kernel per file, TS against native with the
 * `benchmark` package, outputs checked equal before anything is timed, a table on stdout and JSON
 * in bench/results/micro-<kernel>-<timestamp>.json (gitignored).
 *
 * Read the `native/ts` column as a speed-up: TS time per op ÷ native time per op (2.0 = native
 * twice as fast). The machine has 2 shared cores: compare ratios from one run, not absolute
 * numbers across days.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import Benchmark from 'benchmark';
import { loadNativeKernels, TsKernels } from '../../src/kernels/index.js';
import type { Kernels } from '../../src/kernels/index.js';

export interface MicroCase {
  /** Short label: what is measured and at which size. */
  name: string;
  /** Work units (datagrams, bytes...) per call, to report a cost per unit as well. */
  units: number;
  unitName: string;
  ts: () => void;
  native: (() => void) | null;
}

export interface MicroOptions {
  /** Seconds per measurement (benchmark.js `maxTime`). */
  maxTime: number;
}

export const parseOptions = (argv: string[]): MicroOptions => ({
  maxTime: argv.includes('--quick') ? 0.3 : Number(/^--max-time=(.+)$/.exec(argv.find((a) => a.startsWith('--max-time=')) ?? '')?.[1] ?? 1.5),
});

/** Both implementations for a benchmark file; `native` is null (with a note) when not built. */
export function bothKernels(): { ts: Kernels; native: Kernels | null } {
  const native = loadNativeKernels();
  if (typeof native === 'string') {
    process.stderr.write(`micro: ${native}; timing the TS kernels only (npm run build:native)\n`);
    return { ts: new TsKernels(), native: null };
  }
  return { ts: new TsKernels(), native };
}

interface Timing {
  nsPerCall: number;
  rmePercent: number;
  samples: number;
}

const time = (name: string, fn: () => void, options: MicroOptions): Timing => {
  const bench = new Benchmark(name, fn, { maxTime: options.maxTime, minSamples: 10 });
  bench.run({ async: false });
  if (bench.error !== undefined) {
    throw bench.error;
  }
  return { nsPerCall: bench.stats.mean * 1e9, rmePercent: bench.stats.rme, samples: bench.stats.sample.length };
};

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** Times every case (TS then native, alternating), prints a table, writes the JSON. */
export function runMicro(kernel: string, cases: MicroCase[], options: MicroOptions): void {
  const rows = cases.map((c) => {
    // Warm both paths before either is timed, so neither pays the other's JIT work.
    for (let i = 0; i < 200; i++) {
      c.ts();
      c.native?.();
    }
    const ts = time(`${c.name} ts`, c.ts, options);
    const native = c.native === null ? null : time(`${c.name} native`, c.native, options);
    const ratio = native === null ? null : ts.nsPerCall / native.nsPerCall;
    return { case: c.name, units: c.units, unitName: c.unitName, ts, native, nativeSpeedup: ratio };
  });
  const header = `${kernel}: ns per call (±rme)      ts            native        native/ts   ns per ${cases[0]?.unitName ?? 'unit'} ts → native`;
  process.stdout.write(`${header}\n`);
  for (const r of rows) {
    const n = r.native;
    const perUnit = `${fmt(r.ts.nsPerCall / r.units)} → ${n === null ? '-' : fmt(n.nsPerCall / r.units)}`;
    process.stdout.write(
      `  ${r.case.padEnd(30)} ${`${fmt(r.ts.nsPerCall)} ±${r.ts.rmePercent.toFixed(1)}%`.padEnd(14)}` +
        `${(n === null ? '-' : `${fmt(n.nsPerCall)} ±${n.rmePercent.toFixed(1)}%`).padEnd(14)}` +
        `${(r.nativeSpeedup === null ? '-' : `${r.nativeSpeedup.toFixed(2)}x`).padEnd(12)}${perUnit}\n`,
    );
  }
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`micro-${kernel}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadavg: loadavg() };
  writeFileSync(file, `${JSON.stringify({ kernel, machine, maxTime: options.maxTime, rows }, null, 2)}\n`);
  process.stderr.write(`micro: wrote ${file.pathname}\n`);
}

/** Style rule 15: the two implementations must produce the same bytes before they are timed. */
export function assertSame(what: string, a: Uint8Array | number, b: Uint8Array | number): void {
  const same = typeof a === 'number' || typeof b === 'number' ? a === b : Buffer.compare(a, b) === 0;
  if (!same) {
    throw new Error(`micro: ${what}: native and TS outputs differ; not timing a wrong kernel`);
  }
}

/** True when run as a script (`node --import tsx bench/micro/<kernel>.ts`), not imported by run.ts. */
export const isMain = (url: string): boolean => process.argv[1] !== undefined && new URL(url).pathname === process.argv[1];
