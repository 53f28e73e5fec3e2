import { ConfigError } from '../errors.js';

/** One entry of `servers.targets`: an instance to join, and the properties scripts see on its server object. */
export interface MeshTarget {
  /** Host name or IP (IPv6 without brackets); names are resolved when dialing. */
  readonly host: string;
  readonly port: number;
  /** The `?key=value&...` query of the entry (`server.type` for `?type=master`). */
  readonly properties: Readonly<Record<string, string>>;
  /** "host:port" as written (IPv6 in brackets), for logs. */
  readonly address: string;
}

const parseEntry = (entry: string): MeshTarget => {
  const q = entry.indexOf('?');
  const where = (q < 0 ? entry : entry.slice(0, q)).trim();
  const properties: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(entry.slice(q + 1))) {
      properties[k] = v;
    }
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(where);
  if (v6 !== null) {
    host = v6[1];
    portText = v6[2];
  } else {
    const colon = where.lastIndexOf(':');
    host = colon < 0 ? '' : where.slice(0, colon);
    portText = colon < 0 ? '' : where.slice(colon + 1);
  }
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (host === '' || (v6 === null && host.includes(':')) || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(`configuration key servers.targets: "${entry}" is not valid, expected host:port or host:port?key=value (IPv6 as [::1]:port)`);
  }
  return { host, port, properties, address: v6 !== null ? `[${host}]:${port}` : `${host}:${port}` };
};

/**
 * `servers.targets`: `host:port?key=value;host:port`, entries trimmed, empty ones skipped (as
 * MonaServer). Unlike MonaServer, host names are allowed (resolved at each attempt to join).
 */
export const parseTargets = (value: string): MeshTarget[] =>
  value
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseEntry);
