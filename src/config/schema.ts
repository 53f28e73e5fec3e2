import { availableParallelism } from 'node:os';

/**
 * Every configuration key Nimbus knows, with its default and what values are allowed. One table:
 * the validator, the typed Config and the "did you mean" warnings all come from it.
 */
export type KeyKind =
  | { type: 'string' }
  | { type: 'int'; min: number; max: number }
  | { type: 'number'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[] };

export interface KeySpec {
  kind: KeyKind;
  default: string;
  doc: string;
}

const port = { type: 'int', min: 0, max: 65535 } as const;
const seconds = (max: number) => ({ type: 'number', min: 0, max }) as const;

export const schema = {
  host: { kind: { type: 'string' }, default: '0.0.0.0', doc: 'bind address of every listener' },
  publicHost: { kind: { type: 'string' }, default: '', doc: 'host name or address clients are redirected to' },
  'application.dir': { kind: { type: 'string' }, default: '.', doc: 'folder that holds www/ (server applications)' },
  'application.timeout': { kind: seconds(3600), default: '5', doc: 'seconds one script hook may run before it fails (0 = no limit)' },
  'application.recordDir': { kind: { type: 'string' }, default: '', doc: 'folder NetStream publish(name, "record"|"append") and the scripts\' media writers record into (empty: records/ under application.dir; relative: to application.dir; "off": no recording)' },
  'application.dataDir': { kind: { type: 'string' }, default: '', doc: 'folder of the scripts\' persistent data, MonaServer\'s data (empty: data/ under application.dir; relative: to application.dir; "off": kept in memory only)' },
  'application.limitStrikes': { kind: { type: 'int', min: 0, max: 1000 }, default: '3', doc: 'a client whose script hook runs past application.timeout or memoryMax is disconnected; an address whose clients do it this many times within a minute is refused for a minute (0 = never refused; loopback never is)' },
  'application.memoryMax': { kind: { type: 'int', min: 0, max: 0x7fffffff }, default: '268435456', doc: 'bytes the Lua applications may allocate, and the heap of each JS app tree\'s worker thread (at least 16 MiB; 0 = no limit)' },
  'application.socketBuffer': { kind: { type: 'int', min: 1024, max: 0x7fffffff }, default: '1048576', doc: 'bytes a script TCP socket may keep unconsumed by onData, or queued to send, before it is closed' },

  'RTMP.port': { kind: port, default: '1935', doc: 'RTMP TCP port (0 disables RTMP)' },
  'RTMP.host': { kind: { type: 'string' }, default: '', doc: 'bind address of RTMP (default: host)' },
  'RTMP.timeout': { kind: seconds(86400), default: '60', doc: 'seconds without any byte received before a session is closed (0 = never)' },
  'RTMP.connectTimeout': { kind: { type: 'number', min: 1, max: 3600 }, default: '15', doc: 'seconds a client has from TCP connect to a finished connect command' },
  'RTMP.chunkSize': { kind: { type: 'int', min: 128, max: 65536 }, default: '4096', doc: 'outgoing chunk size announced to clients' },
  'RTMP.windowAckSize': { kind: { type: 'int', min: 1024, max: 0x7fffffff }, default: '2500000', doc: 'acknowledgement window announced to clients' },
  'RTMP.maxMessageSize': { kind: { type: 'int', min: 65536, max: 0x7fffffff }, default: '16777216', doc: 'largest message accepted from a client (bytes)' },
  'RTMP.workers': { kind: { type: 'int', min: 0, max: 64 }, default: String(Math.min(availableParallelism(), 64)), doc: 'media worker threads that serve RTMP players and publishers once connected (default: one per core; 0 = everything on the main thread; needs the native addon)' },
  'RTMP.mergeWrite': { kind: { type: 'int', min: 0, max: 1000 }, default: '100', doc: 'milliseconds of frames a player gets in one write (as SRS mw_latency; 0 = each event-loop turn\'s frames at once); adds up to that much latency' },
  'RTMP.maxConnectionsPerAddress': { kind: { type: 'int', min: 0, max: 10000000 }, default: '64', doc: 'simultaneous RTMP sessions from one IP address (0 = unlimited; loopback is never limited)' },
  'RTMP.maxConnections': { kind: { type: 'int', min: 0, max: 10000000 }, default: '0', doc: 'simultaneous RTMP sessions (0 = unlimited)' },

  'RTMFP.port': { kind: port, default: '1935', doc: 'RTMFP UDP port (0 disables RTMFP)' },
  'RTMFP.host': { kind: { type: 'string' }, default: '', doc: 'bind address of RTMFP (default: host)' },
  'RTMFP.publicAddress': { kind: { type: 'string' }, default: '', doc: 'host[:port] given to clients when redirecting to this server (default: publicHost, else the address they used)' },
  'RTMFP.timeout': { kind: seconds(86400), default: '120', doc: 'seconds without any packet before a session is closed (0 = never)' },
  'RTMFP.keepaliveServer': { kind: { type: 'number', min: 5, max: 3600 }, default: '15', doc: 'seconds between the keepalives clients send to the server (user control 41)' },
  'RTMFP.keepalivePeer': { kind: { type: 'number', min: 5, max: 3600 }, default: '10', doc: 'seconds between the keepalives clients send to their peers' },
  'RTMFP.mediaDeadline': { kind: { type: 'number', min: 0.1, max: 60 }, default: '2', doc: 'seconds after which unsent audio/video is abandoned instead of sent late' },
  'RTMFP.workers': { kind: { type: 'int', min: 0, max: 64 }, default: String(Math.min(availableParallelism(), 64)), doc: 'media worker threads, each with its own UDP port (default: one per core; 0 = everything on the main thread)' },
  'RTMFP.workerPort': { kind: port, default: '0', doc: 'first UDP port of the media workers (worker i uses workerPort + i; 0 = any free port)' },
  'RTMFP.maxHandshakesPerAddress': { kind: { type: 'int', min: 0, max: 1024 }, default: '4', doc: 'RTMFP key exchanges (DH) one IP address may have in progress at once (0 = no limit but the global 16; loopback is never limited)' },
  'RTMFP.maxSessions': { kind: { type: 'int', min: 0, max: 10000000 }, default: '0', doc: 'simultaneous RTMFP sessions (0 = unlimited)' },

  'HTTP.port': { kind: port, default: '8080', doc: 'HTTP and WebSocket TCP port: app files, HTTP-FLV, WS-FLV, HLS, the stats API (0 disables HTTP; MonaServer uses 80)' },
  'HTTP.host': { kind: { type: 'string' }, default: '', doc: 'bind address of HTTP (default: host)' },
  'HTTP.timeout': { kind: seconds(3600), default: '7', doc: 'seconds an idle HTTP connection (keep-alive, or headers not finished) stays open' },
  'HTTP.index': { kind: { type: 'string' }, default: 'true', doc: 'what a folder URL serves: true (index.html, else a listing), false (403) or a file name' },
  'HTTP.apiToken': { kind: { type: 'string' }, default: '', doc: 'bearer token for /api/v1 and /metrics (empty: those answer loopback clients only)' },
  'HTTP.maxConnectionsPerAddress': { kind: { type: 'int', min: 0, max: 10000000 }, default: '256', doc: 'simultaneous HTTP connections from one IP address (0 = unlimited; loopback is never limited)' },
  'HTTP.maxHeaderSize': { kind: { type: 'int', min: 1024, max: 1048576 }, default: '16384', doc: 'largest request head (bytes); past it the answer is 431' },
  'HTTP.maxBodySize': { kind: { type: 'int', min: 0, max: 0x7fffffff }, default: '1048576', doc: 'largest request body (bytes) a POST may send to an application; past it the answer is 413' },
  'WebSocket.timeout': { kind: seconds(86400), default: '80', doc: 'seconds without a frame (pings included) before a WebSocket is closed; pings go out at half of it (0 = never)' },
  'WebSocket.maxPayload': { kind: { type: 'int', min: 1024, max: 0x7fffffff }, default: '1048576', doc: 'largest WebSocket message accepted (bytes, fragments together); past it the socket closes with 1009' },
  'HLS.segmentDuration': { kind: { type: 'number', min: 0.5, max: 60 }, default: '2', doc: 'seconds of media per HLS segment (cut at the next keyframe after it)' },
  'HLS.windowSize': { kind: { type: 'int', min: 2, max: 100 }, default: '6', doc: 'segments an HLS playlist lists (a sliding window held in memory)' },
  'HLS.partDuration': { kind: { type: 'number', min: 0, max: 5 }, default: '0', doc: 'seconds per low-latency HLS part (0 = no LL-HLS parts)' },

  'servers.port': { kind: port, default: '0', doc: 'TCP port other instances of the mesh join on (0: no listener)' },
  'servers.host': { kind: { type: 'string' }, default: '', doc: 'bind address of the mesh listener (default: host)' },
  'servers.targets': { kind: { type: 'string' }, default: '', doc: 'instances to join: host:port?key=value;host:port (host names allowed)' },
  'servers.secret': { kind: { type: 'string' }, default: '', doc: 'shared secret: only instances that know it join the mesh (challenge-response, never sent)' },
  'servers.heartbeat': { kind: seconds(3600), default: '5', doc: 'seconds between heartbeats on an idle mesh link; a link silent for 3 of them is closed (0 = off)' },
  'servers.retryMax': { kind: { type: 'number', min: 0.1, max: 3600 }, default: '16', doc: 'longest wait (seconds) between attempts to join a target; retries start after 1 s and double' },
  'servers.maxConnectionsPerAddress': { kind: { type: 'int', min: 0, max: 100000 }, default: '8', doc: 'mesh connections (joined or joining) from one IP address at once (0 = unlimited; loopback is never limited)' },
  'servers.queueBytes': { kind: { type: 'int', min: 16384, max: 0x7fffffff }, default: '8388608', doc: 'bytes queued for a slow mesh peer before relayed media is dropped to the next keyframe' },

  'media.gopCache': { kind: { type: 'bool' }, default: 'true', doc: 'late joiners start at the last keyframe' },
  'media.gopCacheMaxBytes': { kind: { type: 'int', min: 0, max: 0x7fffffff }, default: '8388608', doc: 'largest cached group of pictures (bytes); past it the cache waits for the next keyframe' },
  'media.subscriberQueueBytes': { kind: { type: 'int', min: 16384, max: 0x7fffffff }, default: '1048576', doc: 'bytes queued for one subscriber before frames are dropped to the next keyframe' },
  'media.queueBudget': { kind: { type: 'int', min: 0, max: 0x7fffffff }, default: '536870912', doc: 'bytes all subscribers may hold queued together, shared out between the threads; past it the slowest drop to the next keyframe first (0 = no budget)' },
  'media.subscriberTimeout': { kind: seconds(3600), default: '10', doc: 'seconds a subscriber may stay behind (dropping) before it is closed' },

  'logs.level': { kind: { type: 'int', min: 0, max: 8 }, default: '6', doc: '0 nothing .. 6 info .. 8 trace (same as --log)' },
  'logs.directory': { kind: { type: 'string' }, default: '', doc: 'write logs to files in this folder (empty: standard error)' },
  'logs.name': { kind: { type: 'string' }, default: 'log', doc: 'log file base name (name.0, name.1, ...)' },
  'logs.rotation': { kind: { type: 'int', min: 1, max: 1000 }, default: '10', doc: 'how many log files are kept' },
  'logs.format': { kind: { type: 'enum', values: ['text', 'json'] }, default: 'text', doc: 'text: MonaServer-style lines; json: one JSON object per line (pino), for log collectors' },
  'logs.maxSize': { kind: { type: 'int', min: 1024, max: 0x7fffffff }, default: '1000000', doc: 'size of a log file before it rotates (bytes)' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof schema;
export const knownKeys = Object.keys(schema) as ConfigKey[];

/** Keys read from command-line flags that are not configuration (`--config`, `--log`, `--help`). */
export const cliOnlyKeys = new Set(['config', 'log', 'help']);
