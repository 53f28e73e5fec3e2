import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Congestion } from '../../../src/protocols/rtmfp/flows/Congestion.js';
import { FragmentLoss, LossWindow } from '../../../src/protocols/rtmfp/flows/FragmentLoss.js';
import { RtmfpRecvFlow, defaultRecvLimits } from '../../../src/protocols/rtmfp/flows/RtmfpRecvFlow.js';
import { RtmfpSendFlow } from '../../../src/protocols/rtmfp/flows/RtmfpSendFlow.js';
import { UserDataFlag } from '../../../src/protocols/rtmfp/sessionChunks.js';
import { message } from '../../helpers/flowSim.js';

const TC = Buffer.from('TC\x04\x00', 'latin1');
const none = new Float64Array(0);

/** Sends what the flow has ready now; returns the sequence numbers sent. */
const sendAll = (flow: RtmfpSendFlow, now: number): number[] => {
  const seqs: number[] = [];
  for (let f = flow.nextFragment(now); f !== null; f = flow.nextFragment(now)) {
    flow.markSent(f, now);
    seqs.push(f.seq);
    if (f.notice) {
      break;
    }
  }
  return seqs;
};

describe('RTMFP fragment loss (Client.traffic.lostRate)', () => {
  it('counts our fragments once each: NAKed media abandoned, resent reliable ones, deadlines passed unsent', () => {
    const loss = new FragmentLoss();
    const congestion = new Congestion();
    congestion.cwnd = 1 << 20;
    const media = new RtmfpSendFlow(1, TC, -1, congestion, loss);
    for (let i = 0; i < 10; i++) {
      media.write(message(i, 100), false, 1000, 500);
    }
    assert.deepEqual(sendAll(media, 1000), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual({ ...loss }, { sent: 10, lost: 0, received: 0, missing: 0 });
    // Three acks show 3 missing (1-2 then 4-10 received): it is abandoned.
    for (let n = 0; n < 3; n++) {
      media.onAck(2, new Float64Array([4]), new Float64Array([10]), 1, 64, 1010 + n);
    }
    assert.equal(loss.lost, 1);
    assert.equal(loss.sent, 10);

    const control = new RtmfpSendFlow(2, TC, -1, congestion, loss);
    control.write(message(0, 100), true, 1000);
    sendAll(control, 1000);
    assert.equal(loss.sent, 11);
    // Unacked past the ERTO (3 s before any RTT sample): resent, twice; lost counts it once.
    sendAll(control, 5000);
    sendAll(control, 12_000);
    assert.equal(control.retransmitted, 2);
    assert.equal(loss.lost, 2);
    control.onAck(1, none, none, 0, 64, 12_010);
    assert.equal(loss.lost, 2);

    // Media whose deadline passed before it could leave: counted as ours, and failed.
    const late = new RtmfpSendFlow(3, TC, -1, congestion, loss);
    late.write(message(1, 100), false, 1000, 100);
    late.write(message(2, 100), false, 2000, 100);
    assert.deepEqual(sendAll(late, 2050), [2], 'only the fresh one goes');
    assert.equal(loss.sent, 13);
    assert.equal(loss.lost, 3);

    // A flow the peer rejects takes its fragments with it, uncounted.
    const rejected = new RtmfpSendFlow(4, TC, -1, congestion, loss);
    rejected.write(message(3, 100), false, 3000, 500);
    rejected.write(message(4, 100), false, 3000, 500);
    sendAll(rejected, 3000);
    rejected.reject(0);
    assert.deepEqual({ ...loss }, { sent: 15, lost: 3, received: 0, missing: 0 });
  });

  it('counts the peer\'s fragments: first copies received, sequence numbers its FSN skipped and abandoned ones missing', () => {
    const loss = new FragmentLoss();
    const delivered: Buffer[] = [];
    const flow = new RtmfpRecvFlow(1, TC, -1, (m) => delivered.push(m), defaultRecvLimits, loss);
    flow.receive(1, 0, 0, message(1, 10));
    flow.receive(2, 1, 0, message(2, 10));
    flow.receive(2, 1, 0, message(2, 10));
    assert.deepEqual({ ...loss }, { sent: 0, lost: 0, received: 2, missing: 0 }, 'a duplicate is not counted');
    // 3 and 4 never come: the sender's FSN (4) on fragment 5 skips them.
    flow.receive(5, 4, 0, message(5, 10));
    assert.equal(flow.cumulative, 5);
    assert.deepEqual({ ...loss }, { sent: 0, lost: 0, received: 3, missing: 2 });
    // Out of order: 7 waits for 6, then 6 arrives.
    flow.receive(7, 5, 0, message(7, 10));
    flow.receive(6, 5, 0, message(6, 10));
    assert.deepEqual({ ...loss }, { sent: 0, lost: 0, received: 5, missing: 2 });
    // 8 arrives, 9 is skipped by a forward notice (an empty abandoned fragment with seq 10 = FSN).
    flow.receive(8, 7, 0, message(8, 10));
    flow.receive(10, 10, UserDataFlag.ABANDON, Buffer.alloc(0));
    assert.equal(flow.cumulative, 10);
    assert.deepEqual({ ...loss }, { sent: 0, lost: 0, received: 6, missing: 4 });
    // A late copy of 9 is not counted; the FIN+ABN that ends the flow is not a loss.
    flow.receive(9, 8, 0, message(9, 10));
    flow.receive(11, 10, UserDataFlag.FINAL | UserDataFlag.ABANDON, Buffer.alloc(0));
    assert.ok(flow.complete);
    assert.deepEqual({ ...loss }, { sent: 0, lost: 0, received: 7, missing: 4 });
    assert.equal(delivered.length, 6);
  });

  it('gives the rate over the last five samples, 0 when nothing passed', () => {
    const loss = new FragmentLoss();
    const window = new LossWindow(loss);
    assert.equal(window.sample(), 0);
    loss.sent = 100;
    loss.lost = 10;
    assert.equal(window.sample(), 0.1);
    loss.received = 100;
    loss.missing = 100;
    // 300 fragments since the start, 110 failed.
    assert.equal(window.sample(), 110 / 300);
    // Each sample is compared with the one five samples before it: the empty first one, still.
    assert.equal(window.sample(), 110 / 300);
    assert.equal(window.sample(), 110 / 300);
    assert.equal(window.sample(), 110 / 300);
    // Now with the second (100 sent, 10 lost): 200 fragments since, 100 failed.
    assert.equal(window.sample(), 0.5);
    // Nothing more: the window empties.
    for (let i = 0; i < 4; i++) {
      window.sample();
    }
    assert.equal(window.sample(), 0);
  });
});
