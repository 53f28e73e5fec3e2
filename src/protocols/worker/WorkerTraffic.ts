import type { TrafficSource } from '../SessionTraffic.js';
import type { FromWorker } from './MediaChannel.js';

type Post = (message: FromWorker) => void;

/** What was last reported for a session. */
interface Reported {
  received: number;
  sent: number;
  lostRate: number;
}

/**
 * The traffic of a media worker's sessions (RTMP and RTMFP data halves) for their Clients on the
 * main thread: every report (once a second) reads each session's counters and sends those that
 * changed, all in one 'traffic' message.
 */
export class WorkerTraffic {
  private readonly reported = new WeakMap<TrafficSource, Reported>();

  constructor(
    private readonly post: Post,
    private readonly sessions: () => Iterable<[number, TrafficSource]>,
  ) {}

  report(): void {
    const sids: number[] = [];
    const received: number[] = [];
    const sent: number[] = [];
    const lostRates: number[] = [];
    for (const [sid, source] of this.sessions()) {
      const r = source.bytesReceived;
      const s = source.bytesSent;
      // Sampled every report, changed or not: it moves the session's loss window.
      const lostRate = source.sampleLostRate();
      let last = this.reported.get(source);
      if (last === undefined) {
        last = { received: 0, sent: 0, lostRate: 0 };
        this.reported.set(source, last);
      } else if (last.received === r && last.sent === s && last.lostRate === lostRate) {
        continue;
      }
      last.received = r;
      last.sent = s;
      last.lostRate = lostRate;
      sids.push(sid);
      received.push(r);
      sent.push(s);
      lostRates.push(lostRate);
    }
    if (sids.length > 0) {
      this.post({ op: 'traffic', sids, received, sent, lostRates });
    }
  }
}
