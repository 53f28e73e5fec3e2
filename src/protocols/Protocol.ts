/**
 * What the server needs from a protocol: start listening, report where, stop. Protocols are
 * registered by the server with their config section (`RTMP.*`, `RTMFP.*`).
 */
export interface Protocol {
  readonly name: string;
  /** Resolves with the addresses listened on ("host:port/tcp"); rejects if the port cannot be bound. */
  start(): Promise<string[]>;
  /** Close every session, then the listener. */
  stop(): Promise<void>;
  /** Live sessions, for logs and tests. */
  readonly sessionCount: number;
}
