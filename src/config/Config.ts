import type { MeshTarget } from './targets.js';

/** The whole configuration as one frozen, typed object (scripts read `values` as `mona.configs`). */
export interface Config {
  readonly host: string;
  readonly publicHost: string;
  readonly application: {
    readonly dir: string;
    /** Time budget of one script hook call (0 = none). */
    readonly timeoutMs: number;
    /** Cap on the Lua heap, and on each JS app tree's worker heap (at least 16 MiB), in bytes (0 = none). */
    readonly memoryMax: number;
    /** Hooks run into a limit, by clients of one address within a minute, before it is refused for a minute (0 = never). */
    readonly limitStrikes: number;
    /** Where recordings go (absolute), null when recording is off. */
    readonly recordDir: string | null;
    /** Where the scripts' persistent data is kept (absolute), null when it is kept in memory only. */
    readonly dataDir: string | null;
    /** Bytes a script's TCP socket keeps (unconsumed by onData, or queued to send) before it is closed. */
    readonly socketBuffer: number;
  };
  readonly rtmp: {
    readonly port: number;
    readonly host: string;
    readonly timeoutMs: number;
    readonly connectTimeoutMs: number;
    readonly chunkSize: number;
    readonly windowAckSize: number;
    readonly maxMessageSize: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    /** RTMP.mergeWrite in ms. */
    readonly mergeWriteMs: number;
    /** Media workers that serve RTMP sessions once connected (0: the main thread serves them). */
    readonly workers: number;
  };
  readonly rtmfp: {
    readonly port: number;
    readonly host: string;
    readonly publicAddress: string;
    readonly timeoutMs: number;
    readonly keepaliveServerMs: number;
    readonly keepalivePeerMs: number;
    readonly mediaDeadlineMs: number;
    readonly maxSessions: number;
    readonly maxHandshakesPerAddress: number;
    readonly workers: number;
    readonly workerPort: number;
  };
  /** The HTTP/WebSocket side (`[HTTP]`, `[WebSocket]`, `[HLS]`). */
  readonly http: {
    /** 0: no HTTP. */
    readonly port: number;
    readonly host: string;
    readonly timeoutMs: number;
    /** HTTP.index: true, false or a file name. */
    readonly index: boolean | string;
    readonly apiToken: string;
    readonly maxConnectionsPerAddress: number;
    readonly maxHeaderSize: number;
    readonly maxBodySize: number;
    readonly webSocketTimeoutMs: number;
    readonly webSocketMaxPayload: number;
    readonly hls: { readonly segmentDuration: number; readonly windowSize: number; readonly partDuration: number };
  };
  /** The mesh (`[servers]`): listener, targets to join, link settings. */
  readonly servers: {
    /** 0: no listener. */
    readonly port: number;
    readonly host: string;
    readonly targets: readonly MeshTarget[];
    /** Empty: no authentication (MonaServer's behaviour). */
    readonly secret: string;
    /** 0: no heartbeat. */
    readonly heartbeatMs: number;
    readonly retryMaxMs: number;
    readonly queueBytes: number;
    readonly maxConnectionsPerAddress: number;
  };
  readonly media: {
    readonly gopCache: boolean;
    readonly gopCacheMaxBytes: number;
    readonly subscriberQueueBytes: number;
    readonly subscriberTimeoutMs: number;
    /** media.queueBudget, for the whole process (0: none). */
    readonly queueBudget: number;
  };
  readonly logs: {
    readonly level: number;
    readonly directory: string;
    readonly name: string;
    readonly rotation: number;
    readonly maxSize: number;
    readonly format: 'text' | 'json';
  };
  /** Every key, flat as in MonaServer (`RTMP.port`), defaults included, unknown keys kept for scripts. */
  readonly values: Readonly<Record<string, string>>;
  /** Where the values came from, for the startup log. */
  readonly file: string | null;
}
