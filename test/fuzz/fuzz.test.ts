/**
 * The fuzz harness (issue 14): every target of targets.ts gets random bytes and mutations of its
 * seeds (bit flips, truncation, insertions, duplicated and spliced slices), cut at random points,
 * through fast-check. `npm test` runs a short round (FUZZ_RUNS, default 150 per target);
 * `npm run fuzz` runs each target for FUZZ_SECONDS (default 60) with as many inputs as fit. A
 * failure prints the shrunk input as hex: keep it as test/fuzz/regressions/<target>/<name>.hex
 * (with `@<split>` if it needs one), where it is run on every `npm test` from then on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type FuzzTarget, regressions, targets } from './targets.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 0);
const runs = Number(process.env.FUZZ_RUNS ?? 150);

/** One mutation of `seed` (or fresh random bytes). */
const input = (seeds: Buffer[]): fc.Arbitrary<Buffer> => {
  const random = fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b));
  if (seeds.length === 0) {
    return random;
  }
  const seed = fc.constantFrom(...seeds);
  const mutated = fc
    .tuple(
      seed,
      fc.array(
        fc.record({
          kind: fc.constantFrom('flip', 'set', 'truncate', 'insert', 'duplicate', 'splice'),
          at: fc.double({ min: 0, max: 1, noNaN: true }),
          value: fc.integer({ min: 0, max: 255 }),
          length: fc.integer({ min: 1, max: 64 }),
          other: seed,
        }),
        { maxLength: 8 },
      ),
    )
    .map(([start, mutations]) => {
      let b = Buffer.from(start);
      for (const m of mutations) {
        const at = Math.min(b.length, Math.floor(m.at * b.length));
        switch (m.kind) {
          case 'flip': {
            if (at < b.length) {
              b[at] ^= 1 << (m.value & 7);
            }
            break;
          }
          case 'set': {
            if (at < b.length) {
              b[at] = m.value;
            }
            break;
          }
          case 'truncate': {
            b = b.subarray(0, at);
            break;
          }
          case 'insert': {
            b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.length, m.value), b.subarray(at)]);
            break;
          }
          case 'duplicate': {
            b = Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]);
            break;
          }
          case 'splice': {
            b = Buffer.concat([b.subarray(0, at), m.other.subarray(Math.floor(m.at * m.other.length))]);
            break;
          }
        }
      }
      return b;
    });
  return fc.oneof({ arbitrary: mutated, weight: 4 }, { arbitrary: random, weight: 1 });
};

/** Runs one input; resolves to a description of the finding, or null. */
const check = async (target: FuzzTarget, bytes: Buffer, split: number): Promise<string | null> => {
  try {
    await target.run(bytes, split);
    return null;
  } catch (err) {
    return target.allowed(err) ? null : `${target.name} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
};

describe('fuzz', { timeout: Math.max(120_000, seconds * 1000 * (targets.length + 1)) }, () => {
  for (const target of targets) {
    it(`${target.name}: returns or throws only its own error, for any input`, async () => {
      for (const r of regressions(target.name)) {
        assert.equal(await check(target, r.input, r.split), null, `regression ${r.file}`);
      }
      await fc.assert(
        fc.asyncProperty(input(target.seeds), fc.double({ min: 0, max: 1, noNaN: true }), async (bytes, split) => {
          const finding = await check(target, bytes, split);
          if (finding !== null) {
            throw new Error(`${finding}\ninput: ${bytes.toString('hex')}@${split}`);
          }
        }),
        seconds > 0 ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : { numRuns: runs },
      );
    });
  }
});
