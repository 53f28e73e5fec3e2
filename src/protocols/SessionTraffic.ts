import type { ClientTraffic } from '../core/Client.js';

/**
 * What the data half of a session (RTMP or RTMFP, on the main thread or in a media worker) counts
 * of its traffic, for its Client's `traffic`. Counting costs an addition where bytes pass (or
 * nothing: Node's socket counters); whoever owns the data half reads it every `TRAFFIC_REPORT_MS`
 * (a media worker sends what changed to the main thread, one message for all its sessions).
 */
export interface TrafficSource {
  /** Bytes received since the connection began (TCP payload, UDP datagrams), across threads. */
  readonly bytesReceived: number;
  /** Bytes sent the same way (those the kernel took). */
  readonly bytesSent: number;
  /**
   * The share (0..1) of fragments lost over the last seconds (0 on TCP). It moves the source's
   * window: called once per report, every `TRAFFIC_REPORT_MS`, by one reader only.
   */
  sampleLostRate(): number;
}

/** How often sessions' traffic reaches their Client (and crosses from a media worker). */
export const TRAFFIC_REPORT_MS = 1000;

/** A main-thread session's counts into its client's traffic (one report). */
export const readTraffic = (source: TrafficSource, into: ClientTraffic): void => {
  into.received = source.bytesReceived;
  into.sent = source.bytesSent;
  into.lostRate = source.sampleLostRate();
};
