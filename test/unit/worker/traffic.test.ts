import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrafficSource } from '../../../src/protocols/SessionTraffic.js';
import type { FromWorker } from '../../../src/protocols/worker/MediaChannel.js';
import { WorkerTraffic } from '../../../src/protocols/worker/WorkerTraffic.js';

class Source implements TrafficSource {
  bytesReceived = 0;
  bytesSent = 0;
  lostRate = 0;
  samples = 0;
  sampleLostRate(): number {
    this.samples++;
    return this.lostRate;
  }
}

describe('media worker traffic reports', () => {
  it('sends one message per report for the sessions whose numbers changed, and samples every session each time', () => {
    const posted: FromWorker[] = [];
    const sessions = new Map<number, Source>([
      [1, new Source()],
      [2, new Source()],
    ]);
    const traffic = new WorkerTraffic((m) => posted.push(m), () => sessions);
    traffic.report();
    assert.deepEqual(posted, [{ op: 'traffic', sids: [1, 2], received: [0, 0], sent: [0, 0], lostRates: [0, 0] }], 'new sessions are reported once');
    posted.length = 0;
    traffic.report();
    assert.deepEqual(posted, [], 'nothing changed: no message');
    sessions.get(2)!.bytesReceived = 100;
    sessions.get(2)!.bytesSent = 50;
    traffic.report();
    sessions.get(1)!.lostRate = 0.25;
    traffic.report();
    assert.deepEqual(posted, [
      { op: 'traffic', sids: [2], received: [100], sent: [50], lostRates: [0] },
      { op: 'traffic', sids: [1], received: [0], sent: [0], lostRates: [0.25] },
    ]);
    assert.equal(sessions.get(1)!.samples, 4, 'the loss window moves every report, changed or not');
  });
});
