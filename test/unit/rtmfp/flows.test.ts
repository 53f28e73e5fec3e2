import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Congestion } from '../../../src/protocols/rtmfp/flows/Congestion.js';
import { RtmfpRecvFlow } from '../../../src/protocols/rtmfp/flows/RtmfpRecvFlow.js';
import { UserDataFlag } from '../../../src/protocols/rtmfp/sessionChunks.js';
import { MAX_FRAGMENT, RtmfpSendFlow } from '../../../src/protocols/rtmfp/flows/RtmfpSendFlow.js';
import { message, simulate } from '../../helpers/flowSim.js';


describe('RTMFP flows', () => {
  it('delivers whole and fragmented messages in order over a perfect link', () => {
    const messages = [10, MAX_FRAGMENT, MAX_FRAGMENT + 1, 5000, 0].map((size, i) => ({ data: message(i, size), reliable: true }));
    const { delivered, sender } = simulate(messages, 0, 1);
    assert.equal(delivered.length, messages.length);
    delivered.forEach((d, i) => assert.ok(d.equals(messages[i].data), `message ${i}`));
    assert.ok(sender.idle);
    assert.equal(sender.retransmitted, 0);
  });

  it('delivers every reliable message exactly once and in order despite loss, duplication and reordering', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 1, maxLength: 40 }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.integer(),
        (sizes, loss, seed) => {
          const messages = sizes.map((size, i) => ({ data: message(i, size), reliable: true }));
          const { delivered, sender } = simulate(messages, loss, seed, 20_000);
          assert.equal(sender.failure, null);
          assert.equal(delivered.length, messages.length, `delivered ${delivered.map((d) => d.length).join(',')}`);
          delivered.forEach((d, i) => assert.ok(d.equals(messages[i].data), `message ${i}`));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('abandons lost unreliable messages so later ones still arrive, never out of order', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const messages = Array.from({ length: 60 }, (_, i) => ({ data: message(i, i % 3 === 0 ? 3000 : 200), reliable: false }));
        const { delivered, sender, receiver } = simulate(messages, 0.15, seed, 5000);
        const ids = delivered.map((d) => d.readUInt32BE(0));
        for (let i = 1; i < ids.length; i++) {
          assert.ok(ids[i] > ids[i - 1], 'in order, no duplicate');
        }
        for (const d of delivered) {
          assert.ok(d.equals(messages[d.readUInt32BE(0)].data), 'intact');
        }
        assert.ok(delivered.length >= 30, `most arrive (${delivered.length} of 60)`);
        assert.ok(sender.idle, 'nothing left pending');
        assert.equal(receiver.cumulative, sender.fsn);
      }),
      { numRuns: 30 },
    );
  });

  it('describes the received ranges above the cumulative point', () => {
    const r = new RtmfpRecvFlow(3, Buffer.alloc(0), -1, () => undefined);
    for (const seq of [1, 2, 3, 4, 5, 8, 9, 12]) {
      r.receive(seq, 0, 0, Buffer.from([seq]));
    }
    assert.equal(r.cumulative, 5);
    const from = new Float64Array(8);
    const to = new Float64Array(8);
    assert.equal(r.ackRanges(from, to), 2);
    assert.deepEqual([...from.subarray(0, 2), ...to.subarray(0, 2)], [8, 12, 9, 12]);
  });

  it('skips to the forward sequence number and drops a message whose start was abandoned', () => {
    const got: Buffer[] = [];
    const r = new RtmfpRecvFlow(3, Buffer.alloc(0), -1, (m) => got.push(m));
    r.receive(2, 0, UserDataFlag.FRAGMENT_MIDDLE, Buffer.from('b'));
    r.receive(3, 0, UserDataFlag.FRAGMENT_END, Buffer.from('c'));
    r.receive(4, 3, 0, Buffer.from('d'));
    assert.deepEqual(got.map(String), ['d']);
    assert.equal(r.cumulative, 4);
  });

  it('fails a flow whose sequence numbers run too far ahead, and marks FIN completion', () => {
    const r = new RtmfpRecvFlow(3, Buffer.alloc(0), -1, () => undefined);
    r.receive(1_000_000, 0, 0, Buffer.from('x'));
    assert.match(r.failure ?? '', /too far ahead/);
    const f = new RtmfpRecvFlow(4, Buffer.alloc(0), -1, () => undefined);
    f.receive(1, 0, 0, Buffer.from('x'));
    f.receive(2, 1, UserDataFlag.FINAL | UserDataFlag.ABANDON, Buffer.alloc(0));
    assert.ok(f.complete);
  });

  it('stops sending new data when the peer window is 0 and when the congestion window is full', () => {
    const congestion = new Congestion();
    const s = new RtmfpSendFlow(1, Buffer.alloc(0), -1, congestion);
    for (let i = 0; i < 10; i++) {
      s.write(message(i, 1000), true, 0);
    }
    let sent = 0;
    for (let f = s.nextFragment(0); f !== null; f = s.nextFragment(0)) {
      s.markSent(f, 0);
      sent++;
    }
    assert.ok(sent >= 3 && sent <= 5, `initial window of about 3 packets (${sent})`);
    s.onAck(sent, [], [], 0, 0, 10);
    assert.equal(s.nextFragment(10), null, 'window 0: nothing new');
    s.onAck(sent, [], [], 0, 64, 20);
    assert.notEqual(s.nextFragment(20), null);
  });
});
