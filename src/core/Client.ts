import { randomBytes } from 'node:crypto';

/** What a script can do to a client's connection: implemented by each protocol's session. */
export interface ClientWriter {
  /** Call a method on the client (`NetConnection` client object): RTMP/RTMFP invocation. */
  writeInvocation(name: string, ...args: unknown[]): void;
  /** Send values the client receives as an `onMessage`-style data message. */
  writeMessage(...args: unknown[]): void;
  /** Close the connection, with an optional reason that is logged and, where the protocol can, told to the client. */
  close(reason?: string): void;
  /**
   * Optional capabilities (a protocol without one gives the script a clear error). `writeRaw`:
   * bytes as the protocol's raw unit (RTMP: the body of a User Control message, type 4, as
   * MonaServer's FlashWriter writes raw messages; RTMFP: one flow message of exactly these bytes;
   * WebSocket: one binary frame; HTTP: the response body, text/plain).
   */
  writeRaw?(data: Buffer): void;
  /**
   * Another writer on the same session that closes on its own (`writer:newWriter()`): RTMFP a new
   * flow, RTMP a new chunk stream; `close()` on it ends only that writer.
   */
  newWriter?(): ClientWriter;
  /** Sub-writers: RTMFP sends unreliably when false (MonaServer's `writer.reliable`). */
  reliable?: boolean;
  /** True once closed (by the script, or with its session). */
  readonly isClosed?: boolean;
}

export type ClientState = 'connecting' | 'connected' | 'closed';

/** A client's traffic (`Client.traffic`): one object per client, its fields updated in place. */
export interface ClientTraffic {
  /** Bytes received from the client: TCP payload (RTMP, HTTP), UDP datagrams (RTMFP). */
  received: number;
  /** Bytes sent to the client, the same way. */
  sent: number;
  /**
   * RTMFP: the share (0..1) of the session's fragments, both ways, that did not make it over the
   * last seconds (RtmfpSession.trafficSample); 0 for protocols over TCP.
   */
  lostRate: number;
}

/**
 * One connected client, whatever its protocol. Fields mirror MonaServer's `client` object
 * (mona-api.md §1.4). The protocol creates it, the core registers it once `onConnection` accepts.
 */
export class Client {
  /** 32 raw bytes; for RTMFP the peer ID, for RTMP random. */
  readonly rawId: Buffer;
  /** `rawId` as 64 lowercase hex characters (MonaServer's `client.id`). */
  readonly id: string;
  state: ClientState = 'connecting';
  /** Connect-object fields (tcUrl, app, flashVer...) and URL query parameters. */
  properties: Record<string, unknown> = {};
  /** Per-protocol settings, overridden by what `onConnection` returns. */
  parameters: Record<string, unknown> = {};
  /** Application path, "" for the root app, "/a/b" otherwise. */
  path = '';
  /** Raw query string of the connection URL (without '?'). */
  query = '';
  /** Round-trip time in ms, updated by the protocol's pings. */
  ping = 0;
  lastReceptionTime = Date.now();
  /**
   * HTTP: sets a cookie on the current response (`client.properties(key, value, options)`); null
   * for protocols without cookies.
   */
  setCookie: ((name: string, value: string, options: Record<string, unknown>) => void) | null = null;
  /**
   * Bytes in and out on the wire, kept up to date by the protocol (HTTP and WebSocket as they go,
   * RTMP and RTMFP every second, from wherever the session's data half runs), and for RTMFP the
   * share of fragments lost over the last seconds (0 on TCP). For the API and scripts' QOS.
   */
  readonly traffic: ClientTraffic = { received: 0, sent: 0, lostRate: 0 };
  /** When the client arrived (ms since the epoch). */
  readonly since = Date.now();
  private dataMap: Map<unknown, unknown> | null = null;

  constructor(
    readonly protocol: string,
    /** Remote "ip:port" (IPv6 as "[ip]:port"). */
    public address: string,
    readonly writer: ClientWriter,
    rawId?: Buffer,
  ) {
    this.rawId = rawId ?? randomBytes(32);
    this.id = this.rawId.toString('hex');
  }

  /**
   * Script-owned state (user fields, RPC methods), keyed by the scripting runtime. Made on first
   * use: most clients (players without a script touching them) never need it.
   */
  get data(): Map<unknown, unknown> {
    return (this.dataMap ??= new Map());
  }
}

/** "ip:port" for IPv4, "[ip]:port" for IPv6 (IPv4-mapped addresses shown as IPv4), as MonaServer prints them. */
export const formatAddress = (host: string, port: number): string => {
  const h = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
};
