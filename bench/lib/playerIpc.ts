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
}

/** From now on, log frames with sequence numbers >= these (per track). */
export interface WindowCommand {
  cmd: 'window';
  videoStart: number;
  audioStart: number;
}

/** Frames with sequence numbers >= these are outside the window. */
export interface EndCommand {
  cmd: 'end';
  videoEnd: number;
  audioEnd: number;
}

export interface ReportCommand {
  cmd: 'report';
}

export interface StopCommand {
  cmd: 'stop';
}

export type PlayerCommand = StartCommand | WindowCommand | EndCommand | ReportCommand | StopCommand;

export interface ReadyEvent {
  ev: 'ready';
  connected: number;
  failed: number;
  errors: string[];
  connectMs: number;
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
  /** Frames received more than once by one player (should stay 0). */
  duplicates: number;
  /** Latency histogram (LatencyHistogram sparse form), its max and sum, in ms. */
  histogram: number[];
  latencyMax: number;
  latencySum: number;
  /** Players whose connection closed during the run, and why (first few). */
  closed: number;
  closeReasons: string[];
  /** Every media message received, window or not. */
  messages: number;
}

export interface ErrorEvent {
  ev: 'error';
  message: string;
}

export type PlayerEvent = ReadyEvent | ReportEvent | ErrorEvent;
