/**
 * onHandshake's `attempts` count: per tag, bounded per source address, so a flood of tags from
 * one address cannot reset (or evict) another client's count; the table was cleared whole when
 * full before (issue 14).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandshakeAttempts } from '../../../src/protocols/rtmfp/HandshakeAttempts.js';

describe('RTMFP handshake attempts', () => {
  it('counts each tag\'s IHellos', () => {
    const a = new HandshakeAttempts();
    assert.deepEqual([a.count('10.0.0.1', 'aa'), a.count('10.0.0.1', 'aa'), a.count('10.0.0.1', 'bb'), a.count('10.0.0.2', 'aa')], [1, 2, 1, 1]);
  });

  it('keeps a client\'s count through a flood of new tags from another address, or from its own', () => {
    const a = new HandshakeAttempts();
    a.count('10.0.0.1', 'legit');
    a.count('10.0.0.1', 'legit');
    for (let i = 0; i < 20_000; i++) {
      a.count('192.0.2.66', `flood-${i}`);
    }
    assert.equal(a.count('10.0.0.1', 'legit'), 3, 'another address\'s flood touched nothing');
    for (let i = 0; i < 20_000; i++) {
      a.count(`198.51.${(i >> 8) & 0xff}.${i & 0xff}`, 'spread');
    }
    // A flood spread over many addresses evicts the least recently used addresses only.
    a.count('10.0.0.9', 'recent');
    assert.equal(a.count('10.0.0.9', 'recent'), 2);
  });
});
