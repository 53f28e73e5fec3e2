import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScriptLimitStrikes, hostOf } from '../../../src/scripting/ScriptLimitStrikes.js';

void describe('ScriptLimitStrikes', () => {
  void it('refuses an address after its strikes within the window, for the window, then forgets it', () => {
    let now = 1_000_000;
    const strikes = new ScriptLimitStrikes(3, 60_000, () => now);
    assert.equal(strikes.record('192.0.2.7'), false);
    now += 10_000;
    assert.equal(strikes.record('192.0.2.7'), false);
    assert.equal(strikes.refused('192.0.2.7'), false);
    assert.equal(strikes.record('198.51.100.1'), false, 'another address has its own count');
    now += 10_000;
    assert.equal(strikes.record('192.0.2.7'), true, 'the third strike within a minute');
    assert.equal(strikes.refused('192.0.2.7'), true);
    assert.equal(strikes.refused('198.51.100.1'), false);
    now += 59_000;
    assert.equal(strikes.refused('192.0.2.7'), true);
    now += 2_000;
    assert.equal(strikes.refused('192.0.2.7'), false, 'refused for the window only');
    assert.equal(strikes.record('192.0.2.7'), false, 'the count started over');
  });

  void it('strikes older than the window do not count', () => {
    let now = 0;
    const strikes = new ScriptLimitStrikes(2, 1000, () => now);
    strikes.record('192.0.2.8');
    now = 1500;
    assert.equal(strikes.record('192.0.2.8'), false);
    now = 1600;
    assert.equal(strikes.record('192.0.2.8'), true);
  });

  void it('never refuses loopback, nor anyone with strikes 0', () => {
    const strikes = new ScriptLimitStrikes(1);
    for (const host of ['127.0.0.1', '::1', '::ffff:127.0.0.9']) {
      assert.equal(strikes.record(host), false);
      assert.equal(strikes.refused(host), false);
    }
    const off = new ScriptLimitStrikes(0);
    assert.equal(off.record('192.0.2.9'), false);
    assert.equal(off.refused('192.0.2.9'), false);
  });

  void it('stays bounded under a flood of addresses', () => {
    const strikes = new ScriptLimitStrikes(1);
    strikes.record('192.0.2.10');
    for (let i = 0; i < 5000; i++) {
      strikes.record(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    }
    assert.equal(strikes.refused('192.0.2.10'), false, 'the oldest entry was pushed out, not kept forever');
  });

  void it('hostOf takes the host of a client address', () => {
    assert.equal(hostOf('192.0.2.1:1935'), '192.0.2.1');
    assert.equal(hostOf('[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(hostOf('192.0.2.1'), '192.0.2.1');
  });
});
