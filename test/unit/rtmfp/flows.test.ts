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
    // How many arrive is a statistical property: when the first packets and their acks are all
    // lost, the window stays closed until the initial ERTO (3 s, RFC 7016) and the queued media
    // passes its deadline, as it should. So the count is judged over all runs, the order and
    // integrity on every run.
    const counts: number[] = [];
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
        counts.push(delivered.length);
        assert.ok(sender.idle, 'nothing left pending');
        assert.equal(receiver.cumulative, sender.fsn);
      }),
      { numRuns: 30 },
    );
    counts.sort((a, b) => a - b);
    assert.ok(counts[counts.length >> 1] >= 40, `most arrive (median ${counts[counts.length >> 1]} of 60)`);
    assert.ok(counts.filter((n) => n >= 30).length >= counts.length - 3, `few runs stall (${counts.join(',')})`);
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

  it('gives each fragment its bytes when it goes out and lets it go once acknowledged', () => {
    const s = new RtmfpSendFlow(1, Buffer.alloc(0), -1, new Congestion());
    const control = message(1, 100);
    const big = message(2, 2 * MAX_FRAGMENT + 10);
    s.write(control, true, 0);
    s.write(big, true, 0);
    assert.equal(s.heldFragments, 4);
    const sent = [];
    for (let f = s.nextFragment(0); f !== null; f = s.nextFragment(0)) {
      sent.push({ f, data: f.data });
      s.markSent(f, 0);
    }
    assert.equal(sent.length, 4);
    // Whole messages go as they are; the pieces of a large one are views of it, never copies.
    assert.equal(sent[0].data, control);
    assert.ok(Buffer.concat(sent.slice(1).map((x) => x.data)).equals(big));
    for (const { data } of sent.slice(1)) {
      assert.equal(data.buffer, big.buffer);
    }
    // A later fragment acked first: it is done but waits behind the first one.
    s.onAck(0, [2], [4], 1, 64, 5);
    assert.equal(s.heldFragments, 4);
    assert.equal(sent[1].f.data.length, 0, 'an acked fragment lets its bytes go');
    s.onAck(4, [], [], 0, 64, 6);
    assert.equal(s.heldFragments, 0, 'everything acked: the flow holds nothing');
    assert.ok(s.idle);
    // The flow keeps working after it emptied its queue.
    s.write(message(3, 10), true, 7);
    const next = s.nextFragment(7);
    assert.equal(next?.seq, 5);
    assert.equal(next.data.length, 10);
  });

  it('does not keep the fragments of a long-lived flow once they are acknowledged', () => {
    const s = new RtmfpSendFlow(1, Buffer.alloc(0), -1, new Congestion());
    let seq = 0;
    for (let round = 0; round < 100; round++) {
      s.write(message(round, 50), round % 2 === 0, round, 1000);
      for (let f = s.nextFragment(round); f !== null; f = s.nextFragment(round)) {
        s.markSent(f, round);
        seq = f.seq;
      }
      s.onAck(seq, [], [], 0, 64, round);
      assert.equal(s.heldFragments, 0, `round ${round}`);
    }
  });

  it('handles in-order fragments without an out-of-order buffer and still reorders when one is late', () => {
    const delivered: Buffer[] = [];
    const f = new RtmfpRecvFlow(4, Buffer.alloc(0), -1, (m) => delivered.push(m));
    const from = new Float64Array(8);
    const to = new Float64Array(8);
    assert.equal(f.receive(1, 0, 0, Buffer.from('a')), false, 'in order: the ack may wait');
    assert.equal(f.receive(2, 1, UserDataFlag.FRAGMENT_BEGIN, Buffer.from('b')), false);
    assert.equal(f.receive(3, 2, UserDataFlag.FRAGMENT_END, Buffer.from('c')), false);
    assert.deepEqual(delivered.map(String), ['a', 'bc']);
    assert.equal(f.ackRanges(from, to), 0);
    // 5 before 4: held, reported, then both delivered in order.
    assert.equal(f.receive(5, 3, 0, Buffer.from('e')), true);
    assert.equal(f.ackRanges(from, to), 1);
    assert.deepEqual([from[0], to[0]], [5, 5]);
    assert.equal(f.receive(4, 3, 0, Buffer.from('d')), false);
    assert.deepEqual(delivered.map(String), ['a', 'bc', 'd', 'e']);
    assert.equal(f.cumulative, 5);
    assert.equal(f.ackRanges(from, to), 0);
    // A forward sequence number at the fragment itself (abandoned before it) moves past the gap.
    f.receive(8, 8, 0, Buffer.from('h'));
    assert.equal(f.cumulative, 8);
    assert.deepEqual(delivered.map(String), ['a', 'bc', 'd', 'e', 'h']);
    // A duplicate is acknowledged at once and delivered once.
    assert.equal(f.receive(8, 8, 0, Buffer.from('h')), true);
    assert.equal(delivered.length, 5);
  });

  it('drops an in-order fragment the receive buffer has no room for', () => {
    const delivered: Buffer[] = [];
    const f = new RtmfpRecvFlow(4, Buffer.alloc(0), -1, (m) => delivered.push(m), { maxMessageBytes: 100, maxBufferedBytes: 10, maxWindow: 100 });
    f.receive(1, 0, UserDataFlag.FRAGMENT_BEGIN, Buffer.alloc(8));
    f.receive(2, 1, UserDataFlag.FRAGMENT_END, Buffer.alloc(8));
    assert.equal(delivered.length, 0, 'no room for the second piece: the message does not complete');
    assert.equal(f.cumulative, 1);
  });
});
