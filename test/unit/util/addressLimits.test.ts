/**
 * Per-address limits and throttled log lines (issue 14): one address holds at most its share,
 * loopback is never limited, a flood of refusals writes one line per interval with a count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressLimits, ThrottledLog, isLoopback } from '../../../src/util/AddressLimits.js';

describe('address limits', () => {
  it('holds at most max per address, frees at release, and never limits loopback', () => {
    const limits = new AddressLimits(2);
    assert.deepEqual([limits.acquire('192.0.2.1'), limits.acquire('192.0.2.1'), limits.acquire('192.0.2.1')], [true, true, false]);
    assert.equal(limits.acquire('192.0.2.2'), true, 'another address has its own share');
    limits.release('192.0.2.1');
    assert.equal(limits.acquire('192.0.2.1'), true);
    assert.equal(limits.refused, 1);
    for (let i = 0; i < 10; i++) {
      assert.equal(limits.acquire('127.0.0.1'), true);
      assert.equal(limits.acquire('::1'), true);
    }
    assert.deepEqual(['127.0.0.5', '::ffff:127.0.0.1', '::1', '10.0.0.1'].map(isLoopback), [true, true, true, false]);
    assert.equal(new AddressLimits(0).acquire('192.0.2.1'), true);
  });

  it('writes a flood of the same event once per interval, with the count held back', () => {
    let now = 0;
    const lines: string[] = [];
    const log = new ThrottledLog((m) => lines.push(m), 1000, () => now);
    for (let i = 0; i < 500; i++) {
      log.report('refused');
      now += 5;
    }
    assert.deepEqual(lines, ['refused', 'refused (and 199 more in the last 1 s)', 'refused (and 199 more in the last 1 s)']);
  });
});
