/**
 * Benchmark runner: `node --import tsx bench/run.ts [BENCHMARK ...] [--flags]` (npm run bench -- ...).
 * With no name it runs every benchmark. With one name every flag goes to it (`--help` lists its
 * flags); with several (or none) only the flags they all take go to each: --quick, --out,
 * --max-minutes.
 * Results: a table on stdout, JSON in bench/results/. See bench/README.md.
 */
import { main as redirection } from './macro/redirection.js';
import { main as rtmfpFanout } from './macro/rtmfpFanout.js';
import { main as rtmfpHandshake } from './macro/rtmfpHandshake.js';
import { main as rtmpFanout } from './macro/rtmpFanout.js';

const benchmarks: Record<string, (argv: string[]) => Promise<number>> = { rtmpFanout, rtmfpFanout, rtmfpHandshake, redirection };
/** Flags every benchmark takes (rtmfpHandshake and redirection ignore --max-minutes: they are bounded by their own counts). */
const common = ['--quick', '--out', '--max-minutes'];

const args = process.argv.slice(2);
// Benchmark names come first; everything from the first flag on is passed to the benchmarks.
const firstFlag = args.findIndex((a) => a.startsWith('-'));
const names = firstFlag < 0 ? args : args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}\n`);
  process.exit(2);
}
const chosen = names.length > 0 ? names : Object.keys(benchmarks);
let passed = flags;
if (chosen.length > 1) {
  passed = flags.filter((f) => common.includes(f.split('=')[0]));
  const dropped = flags.filter((f) => !passed.includes(f));
  if (dropped.length > 0) {
    process.stderr.write(`running ${chosen.length} benchmarks: ${dropped.join(' ')} ignored (name one benchmark to pass it its own flags)\n`);
  }
}
let code = 0;
for (const name of chosen) {
  code = Math.max(code, await benchmarks[name](passed));
}
process.exitCode = code;
