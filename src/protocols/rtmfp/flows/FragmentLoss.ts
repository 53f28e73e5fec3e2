/**
 * What the flows of one RTMFP session count of the fragments that did not make it, both ways
 * (Client.traffic.lostRate). One object per session, shared by its flows; each count is one
 * addition where a fragment is sent, acked, abandoned or received.
 *
 * - Ours (send flows): every fragment counts once in `sent`, when it first leaves or when it is
 *   abandoned before it ever left (a deadline passed while it waited). It counts once in `lost`
 *   when it had to be sent again (reliable: NAKed three times or unacked past the ERTO), when it
 *   was abandoned after leaving (unreliable: NAKed, or unacked past the ERTO) or before leaving.
 *   Forward-sequence notices and fragments of a flow the peer rejected are not counted.
 * - The peer's (receive flows): a fragment that arrives counts once in `received` (duplicates
 *   and late copies of what was given up are not counted); the sequence numbers the peer's
 *   forward sequence number skips without their fragment having arrived, and fragments that
 *   arrive flagged abandoned (except the empty FIN+ABN that ends a flow), count in `missing`.
 *   Reliable fragments the peer had to resend arrive in the end and are not seen as missing.
 */
export class FragmentLoss {
  sent = 0;
  lost = 0;
  received = 0;
  missing = 0;
}

/** Samples (one a second) the lost rate is computed over. */
const WINDOW = 5;

/**
 * The share of a session's fragments, both ways, that did not make it over the last `WINDOW`
 * samples: (lost + missing) / (sent + received + missing) between the oldest sample kept and
 * now; 0 when no fragment passed.
 */
export class LossWindow {
  /** Per sample: the fragments counted and the failed ones, totals since the session began. */
  private readonly totals = new Float64Array(2 * WINDOW);
  /** The oldest sample's slot (overwritten by the next one). */
  private at = 0;

  constructor(private readonly loss: FragmentLoss) {}

  /** Takes a sample now (once per report) and returns the rate over the window it closes. */
  sample(): number {
    const loss = this.loss;
    const fragments = loss.sent + loss.received + loss.missing;
    const failed = loss.lost + loss.missing;
    const i = 2 * this.at;
    const dFragments = fragments - this.totals[i];
    const dFailed = failed - this.totals[i + 1];
    this.totals[i] = fragments;
    this.totals[i + 1] = failed;
    this.at = (this.at + 1) % WINDOW;
    return dFragments > 0 ? Math.min(1, Math.max(0, dFailed / dFragments)) : 0;
  }
}
