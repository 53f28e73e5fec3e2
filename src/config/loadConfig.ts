import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, MediaServerError } from '../errors.js';
import type { Config } from './Config.js';
import { parseIni } from './ini.js';
import { type ConfigKey, type KeyKind, cliOnlyKeys, knownKeys, schema } from './schema.js';
import { parseTargets } from './targets.js';

export interface LoadConfigOptions {
  /** `--config FILE`; when absent, `nimbus.ini` in `cwd` is read if present. */
  file?: string | null;
  /** `--section.key=value` overrides, applied after the file. */
  overrides?: Record<string, string>;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Unknown keys and similar: the caller logs them once the logger is configured. */
  warnings: string[];
}

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
};

/** Sections of the known keys (lower case; "" for the top-level keys). */
const knownSections = new Set(knownKeys.map((k) => (k.includes('.') ? k.slice(0, k.indexOf('.')).toLowerCase() : '')));

/**
 * Whether an unknown key is probably a typo of ours: its section is one of Nimbus's (or one edit
 * away from one or two, `RTPM.port`). Keys of other sections (`[admin] user = ...`) are the apps'
 * settings, read by scripts through `mona.configs`, and get no warning.
 */
export const looksLikeOurs = (key: string): boolean => {
  const section = key.includes('.') ? key.slice(0, key.indexOf('.')).toLowerCase() : '';
  if (knownSections.has(section)) {
    return true;
  }
  // A typo: two edits at most (a swap of two letters is two), one for short names.
  const allowed = section.length >= 4 ? 2 : 1;
  for (const known of knownSections) {
    if (known !== '' && distance(section, known) <= allowed) {
      return true;
    }
  }
  return false;
};

export const nearestKey = (key: string): string => {
  let best: string = knownKeys[0];
  let bestScore = Infinity;
  for (const known of knownKeys) {
    const score = distance(key.toLowerCase(), known.toLowerCase());
    if (score < bestScore) {
      best = known;
      bestScore = score;
    }
  }
  return best;
};

const describe = (kind: KeyKind): string => {
  switch (kind.type) {
    case 'int': {
      return `an integer from ${kind.min} to ${kind.max}`;
    }
    case 'number': {
      return `a number from ${kind.min} to ${kind.max}`;
    }
    case 'bool': {
      return 'true or false';
    }
    case 'enum': {
      return `one of ${kind.values.join(', ')}`;
    }
    case 'string': {
      return 'a string';
    }
  }
};

const parseValue = (key: string, raw: string, kind: KeyKind): string | number | boolean => {
  const fail = (): never => {
    throw new ConfigError(`configuration key ${key}: "${raw}" is not valid, expected ${describe(kind)}`);
  };
  switch (kind.type) {
    case 'string': {
      return raw;
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === 'yes' || v === 'on' || v === '1') {
        return true;
      }
      if (v === 'false' || v === 'no' || v === 'off' || v === '0') {
        return false;
      }
      return fail();
    }
    case 'enum': {
      return kind.values.includes(raw) ? raw : fail();
    }
    case 'int':
    case 'number': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n) || n < kind.min || n > kind.max || (kind.type === 'int' && !Number.isInteger(n))) {
        return fail();
      }
      return n;
    }
  }
};

/** application.recordDir: "off" turns recording off; empty is records/ under the application dir, a relative path is under it too. */
const recordDir = (applicationDir: string, raw: string): string | null => {
  const value = raw.trim();
  if (value.toLowerCase() === 'off') {
    return null;
  }
  return resolve(applicationDir, value === '' ? 'records' : value);
};

/** application.dataDir: "off" keeps the data in memory only; empty is data/ under the application dir (MonaServer's), a relative path is under it too. */
const dataDir = (applicationDir: string, raw: string): string | null => {
  const value = raw.trim();
  if (value.toLowerCase() === 'off') {
    return null;
  }
  return resolve(applicationDir, value === '' ? 'data' : value);
};

/** HTTP.index as MonaServer reads it: a boolean word, else the name of the file a folder serves. */
const indexValue = (raw: string): boolean | string => {
  const word = raw.trim().toLowerCase();
  if (word === 'true' || word === 'yes' || word === 'on' || word === '1') {
    return true;
  }
  if (word === 'false' || word === 'no' || word === 'off' || word === '0' || word === '') {
    return false;
  }
  return raw.trim();
};

const deepFreeze = <T extends object>(value: T): T => {
  for (const v of Object.values(value)) {
    if (typeof v === 'object' && v !== null) {
      deepFreeze(v as object);
    }
  }
  return Object.freeze(value);
};

/** Reads the file and overrides, validates every known key once, and returns a deep-frozen Config. */
export const loadConfig = (options: LoadConfigOptions = {}): LoadedConfig => {
  const cwd = options.cwd ?? process.cwd();
  const warnings: string[] = [];
  const values: Record<string, string> = {};
  for (const key of knownKeys) {
    values[key] = schema[key].default;
  }

  let file: string | null = null;
  if (options.file != null) {
    file = resolve(cwd, options.file);
    if (!existsSync(file)) {
      throw new MediaServerError('MS_ERR_CONFIG_FILE', `configuration file ${file} does not exist`);
    }
  } else if (existsSync(resolve(cwd, 'nimbus.ini'))) {
    file = resolve(cwd, 'nimbus.ini');
  }

  const given = new Map<string, string>();
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new MediaServerError('MS_ERR_CONFIG_FILE', `cannot read configuration file ${file}`, { cause: err });
    }
    for (const entry of parseIni(text)) {
      given.set(entry.key, entry.value);
    }
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (!cliOnlyKeys.has(key)) {
      given.set(key, value);
    }
  }

  for (const [key, value] of given) {
    if (!(key in schema) && looksLikeOurs(key)) {
      warnings.push(`unknown configuration key ${key} (kept for scripts); did you mean ${nearestKey(key)}?`);
    }
    values[key] = value;
  }

  const parsed = {} as Record<ConfigKey, string | number | boolean>;
  for (const key of knownKeys) {
    parsed[key] = parseValue(key, values[key], schema[key].kind);
  }
  const str = (k: ConfigKey): string => parsed[k] as string;
  const num = (k: ConfigKey): number => parsed[k] as number;
  const bool = (k: ConfigKey): boolean => parsed[k] as boolean;

  const config: Config = {
    host: str('host'),
    publicHost: str('publicHost'),
    application: {
      dir: resolve(cwd, str('application.dir')),
      timeoutMs: num('application.timeout') * 1000,
      memoryMax: num('application.memoryMax'),
      limitStrikes: num('application.limitStrikes'),
      recordDir: recordDir(resolve(cwd, str('application.dir')), str('application.recordDir')),
      dataDir: dataDir(resolve(cwd, str('application.dir')), str('application.dataDir')),
      socketBuffer: num('application.socketBuffer'),
    },
    rtmp: {
      port: num('RTMP.port'),
      host: str('RTMP.host') === '' ? str('host') : str('RTMP.host'),
      timeoutMs: num('RTMP.timeout') * 1000,
      connectTimeoutMs: num('RTMP.connectTimeout') * 1000,
      chunkSize: num('RTMP.chunkSize'),
      windowAckSize: num('RTMP.windowAckSize'),
      maxMessageSize: num('RTMP.maxMessageSize'),
      maxConnections: num('RTMP.maxConnections'),
      maxConnectionsPerAddress: num('RTMP.maxConnectionsPerAddress'),
      workers: num('RTMP.workers'),
      mergeWriteMs: num('RTMP.mergeWrite'),
    },
    rtmfp: {
      port: num('RTMFP.port'),
      host: str('RTMFP.host') === '' ? str('host') : str('RTMFP.host'),
      publicAddress: str('RTMFP.publicAddress') === '' ? str('publicHost') : str('RTMFP.publicAddress'),
      timeoutMs: num('RTMFP.timeout') * 1000,
      keepaliveServerMs: num('RTMFP.keepaliveServer') * 1000,
      keepalivePeerMs: num('RTMFP.keepalivePeer') * 1000,
      mediaDeadlineMs: num('RTMFP.mediaDeadline') * 1000,
      maxSessions: num('RTMFP.maxSessions'),
      maxHandshakesPerAddress: num('RTMFP.maxHandshakesPerAddress'),
      workers: num('RTMFP.workers'),
      workerPort: num('RTMFP.workerPort'),
    },
    http: {
      port: num('HTTP.port'),
      host: str('HTTP.host') === '' ? str('host') : str('HTTP.host'),
      timeoutMs: num('HTTP.timeout') * 1000,
      index: indexValue(str('HTTP.index')),
      apiToken: str('HTTP.apiToken'),
      maxConnectionsPerAddress: num('HTTP.maxConnectionsPerAddress'),
      maxHeaderSize: num('HTTP.maxHeaderSize'),
      maxBodySize: num('HTTP.maxBodySize'),
      webSocketTimeoutMs: num('WebSocket.timeout') * 1000,
      webSocketMaxPayload: num('WebSocket.maxPayload'),
      hls: {
        segmentDuration: num('HLS.segmentDuration'),
        windowSize: num('HLS.windowSize'),
        partDuration: num('HLS.partDuration'),
      },
    },
    servers: {
      port: num('servers.port'),
      host: str('servers.host') === '' ? str('host') : str('servers.host'),
      targets: parseTargets(str('servers.targets')),
      secret: str('servers.secret'),
      heartbeatMs: num('servers.heartbeat') * 1000,
      retryMaxMs: num('servers.retryMax') * 1000,
      queueBytes: num('servers.queueBytes'),
      maxConnectionsPerAddress: num('servers.maxConnectionsPerAddress'),
    },
    media: {
      gopCache: bool('media.gopCache'),
      gopCacheMaxBytes: num('media.gopCacheMaxBytes'),
      subscriberQueueBytes: num('media.subscriberQueueBytes'),
      subscriberTimeoutMs: num('media.subscriberTimeout') * 1000,
      queueBudget: num('media.queueBudget'),
    },
    logs: {
      level: num('logs.level'),
      directory: str('logs.directory'),
      name: str('logs.name'),
      rotation: num('logs.rotation'),
      maxSize: num('logs.maxSize'),
      format: str('logs.format') === 'json' ? 'json' : 'text',
    },
    values,
    file,
  };
  return { config: deepFreeze(config), warnings };
};
