/**
 * Benchmark runner: `node --import tsx bench/run.ts [BENCHMARK ...] [--flags]` (npm run bench -- ...).
 * With no name it runs every benchmark; flags go to each of them (`--help` lists a benchmark's).
 * Results: a table on stdout, JSON in bench/results/. See bench/README.md.
 */
import { main as rtmpFanout } from './macro/rtmpFanout.js';

const benchmarks: Record<string, (argv: string[]) => Promise<number>> = { rtmpFanout };

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
let code = 0;
for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
  code = Math.max(code, await benchmarks[name](flags));
}
process.exitCode = code;
