/** Messages between a benchmark and its player processes (bench/lib/playerProcess.ts). */

export interface StartCommand {
  cmd: 'start';
  url: string;
  stream: string;
  players: number;
  /** Players connecting at the same time. */
  concurrency: number;
  connectTimeoutMs: number;
  /** The process exits by itself after this long, whatever happens. */
  maxLifetimeMs: number;
  /** Receipts the log can hold (players × frames per second × seconds armed, with a margin). */
  logCapacity: number;
  /** Client protocol (default rtmp): RtmpClient, RtmfpClient in its light mode (one UDP socket each), or a light HTTP-FLV player (url http://host:port/app). */
  protocol?: 'rtmp' | 'rtmfp' | 'http-flv';
  /**
   * Follow the seed's overflow redirection: on NetStream.Play.Failed, connect again to the last word
   * of the status description (host:port), same protocol and path, at most this many times (default 0).
   */
  maxRedirects?: number;
  /**
   * Every this many ms while players join (and until the report), a progress line on stderr: joined,
   * playing, failed, joins in flight by phase, redirections, CPU of the process, event-loop delay.
   * 0 or absent: none.
   */
  progressMs?: number;
  /**
   * RTMFP light mode: this many clients share one UDP socket (RtmfpClientSocket: demultiplexed by
   * session ID, recvmmsg/sendmmsg with the native addon). 0 or absent: one socket per client.
   */
  sessionsPerSocket?: number;
  /** RTMFP light mode: in-order data acknowledged on the delayed-ack timer, not every second packet. */
  delayedAcks?: boolean;
  /**
   * Report 'ready' after this long (ms from the start command) even if some joins are still in
   * progress: they are counted as not playing (`pending`), and no new join starts. Absent: wait for all.
   */
  joinDeadlineMs?: number;
}

/**
 * From now on, log every stamped frame received (sequence number, latency, player). Sent a while
 * before the measurement window starts: a busy process may read its sockets before this pipe.
 */
export interface ArmCommand {
  cmd: 'arm';
}

/** Stop logging, and report on the frames with sequence numbers in [start, end) of each track. */
export interface ReportCommand {
  cmd: 'report';
  videoStart: number;
  videoEnd: number;
  audioStart: number;
  audioEnd: number;
}

export interface StopCommand {
  cmd: 'stop';
}

export type PlayerCommand = StartCommand | ArmCommand | ReportCommand | StopCommand;

export interface ReadyEvent {
  ev: 'ready';
  connected: number;
  failed: number;
  /** Joins not started or not finished when `joinDeadlineMs` passed (0 without a deadline). */
  pending: number;
  errors: string[];
  connectMs: number;
  /** Time one player took from TCP connect to Play.Start (successful joins), ms. */
  joinP50: number;
  joinP99: number;
  joinMax: number;
  /** Players that were redirected once, twice... ([0] = played where they first connected). */
  redirects: number[];
  /** Players per server they ended on (host:port). */
  hosts: Record<string, number>;
}

export interface ReportEvent {
  ev: 'report';
  players: number;
  connected: number;
  /** Window frames (audio + video) received, all players together. */
  delivered: number;
  /** Window frames each player should have received (video + audio). */
  perPlayerExpected: number;
  /** Lowest delivered/expected of one player (connected or not). */
  minPlayerRatio: number;
  /** Players under 99 % of the window's frames. */
  playersBelow99: number;
  /** Frames received more than once, or out of order, by one player (should stay 0). */
  duplicates: number;
  /** Frames not logged because the log was full (the report is then incomplete). */
  overflow: number;
  /** Latency histogram (LatencyHistogram sparse form), its max and sum, in ms. */
  histogram: number[];
  latencyMax: number;
  latencySum: number;
  /** Latency p50 of the first and of the last tenth of the window (by sequence number), ms. */
  latencyP50First: number;
  latencyP50Last: number;
  /** Players whose connection closed during the run, and why (first few). */
  closed: number;
  closeReasons: string[];
  /** Every media message received, window or not. */
  messages: number;
  /** Window frames each player missed (expected − delivered): the largest, and how many players missed any. */
  maxLostPerPlayer: number;
  playersWithLoss: number;
  /** Per server the players ended on (host:port after redirections), same measures. */
  byHost: HostReport[];
}

export interface HostReport {
  host: string;
  players: number;
  delivered: number;
  maxLostPerPlayer: number;
  playersWithLoss: number;
  histogram: number[];
  latencyMax: number;
  latencySum: number;
}

export interface ErrorEvent {
  ev: 'error';
  message: string;
}

export type PlayerEvent = ReadyEvent | ReportEvent | ErrorEvent;
