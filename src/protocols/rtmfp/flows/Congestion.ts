/**
 * Per-session RTT estimation and congestion window (RFC 7016 §3.5.2 and Appendix A, simplified):
 * SRTT/RTTVAR as TCP does (RFC 6298), ERTO = max(SRTT + 4·RTTVAR + 200 ms, 250 ms) starting at
 * 3 s with ×√2 back-off up to 10 s; an AIMD window in bytes that starts at 3 packets, grows by
 * what is acked (slow start) then by one packet per window, halves on loss and collapses to one
 * packet on a timeout.
 */
export const MAX_PACKET = 1192;

const INITIAL_RTO = 3000;
const MIN_RTO = 250;
const MAX_RTO = 10_000;
const ACK_DELAY_ALLOWANCE = 200;

export class Congestion {
  srtt = -1;
  rttvar = 0;
  /** Effective retransmission timeout, ms. */
  erto = INITIAL_RTO;
  /** Bytes allowed in flight. */
  cwnd = 3 * MAX_PACKET;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes sent and neither acked, abandoned nor declared lost. */
  inFlight = 0;
  private lastLossAt = 0;

  /** One RTT sample (from a fragment sent once and then acked). */
  sample(rtt: number): void {
    if (rtt < 0) {
      return;
    }
    if (this.srtt < 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
    this.erto = Math.min(MAX_RTO, Math.max(MIN_RTO, this.srtt + 4 * this.rttvar + ACK_DELAY_ALLOWANCE));
  }

  get canSend(): boolean {
    return this.inFlight < this.cwnd;
  }

  onSent(bytes: number): void {
    this.inFlight += bytes;
  }

  /** Bytes left the network (acked, abandoned, declared lost). */
  onLeft(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
  }

  onAcked(bytes: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += bytes;
    } else {
      this.cwnd += Math.max(1, Math.floor((MAX_PACKET * bytes) / this.cwnd));
    }
    // Keep the window bounded: a huge window only hides a receiver that cannot keep up.
    this.cwnd = Math.min(this.cwnd, 4 * 1024 * 1024);
  }

  /** A loss detected by later acks: halve, at most once per RTT. */
  onLoss(now: number): void {
    if (now - this.lastLossAt < Math.max(this.srtt, 50)) {
      return;
    }
    this.lastLossAt = now;
    this.ssthresh = Math.max(2 * MAX_PACKET, Math.floor(this.cwnd / 2));
    this.cwnd = this.ssthresh;
  }

  /** A retransmission timeout: back off the timer and restart from one packet. */
  onTimeout(now: number): void {
    this.erto = Math.min(MAX_RTO, this.erto * Math.SQRT2);
    if (now - this.lastLossAt < this.erto) {
      return;
    }
    this.lastLossAt = now;
    this.ssthresh = Math.max(2 * MAX_PACKET, Math.floor(this.cwnd / 2));
    this.cwnd = MAX_PACKET;
  }
}
