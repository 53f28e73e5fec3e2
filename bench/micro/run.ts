/**
 * Every micro-benchmark in turn: `npm run bench:micro [-- NAME ...] [--quick] [--max-time=S]`.
 * Each file also runs alone: `node --import tsx bench/micro/encrypt.ts`. See README.md here.
 */
import { main as checksum } from './checksum.js';
import { main as decrypt } from './decrypt.js';
import { main as encrypt } from './encrypt.js';
import { main as encryptPackets } from './encryptPackets.js';
import { main as fanOut } from './fanOut.js';
import { main as parsers } from './parsers.js';

const benchmarks: Record<string, (argv: string[]) => void> = { checksum, encrypt, decrypt, fanOut, encryptPackets, parsers };
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-'));
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length > 0) {
  process.stderr.write(`unknown micro-benchmark ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}\n`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
  benchmarks[name](args.filter((a) => a.startsWith('-')));
}
