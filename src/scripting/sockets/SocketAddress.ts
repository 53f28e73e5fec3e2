import { isIP } from 'node:net';

/** Where a script socket binds, listens, connects or sends: a host (IP or name) and a port. */
export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

/** How a host given without a port is read (MonaServer's LUASocketAddress::Read). */
export const WILDCARD = '0.0.0.0';
export const LOOPBACK = '127.0.0.1';

/** "ip:port", with IPv6 hosts in brackets; IPv4-mapped IPv6 hosts written as IPv4. */
export const formatAddress = (host: string, port: number): string => {
  const plain = host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  return isIP(plain) === 6 ? `[${plain}]:${port}` : `${plain}:${port}`;
};

/** `node:net`'s view of a bound or connected end, formatted; null while there is none. */
export const endOf = (host: string | undefined, port: number | undefined): string | null =>
  host === undefined || host === '' || port === undefined ? null : formatAddress(host, port);

const portOf = (value: unknown): number | null => {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
};

/** The IP of a "[v6]" or bare host, without brackets. */
const hostOf = (text: string): string => {
  const trimmed = text.trim();
  return trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
};

/** "host:port", "[v6]:port" or "v6" + port given apart; throws with MonaServer's kind of message. */
export const parseAddress = (text: string, port?: unknown): SocketAddress => {
  if (port !== undefined && port !== null) {
    const p = portOf(port);
    if (p === null) {
      throw new Error(`invalid port ${typeof port === 'string' || typeof port === 'number' ? port : typeof port}`);
    }
    const host = hostOf(text);
    if (host === '') {
      throw new Error('empty host');
    }
    return { host, port: p };
  }
  const trimmed = text.trim();
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed);
  if (bracket !== null) {
    return parseAddress(bracket[1], bracket[2]);
  }
  const colon = trimmed.lastIndexOf(':');
  if (colon <= 0 || isIP(trimmed) === 6) {
    throw new Error(`missing port in address "${trimmed}"`);
  }
  return parseAddress(trimmed.slice(0, colon), trimmed.slice(colon + 1));
};

/** Anything with an "ip:port" `address` (a mesh server object, another socket's address holder). */
const addressField = (value: object): string | null => {
  const address = (value as { address?: unknown }).address;
  return typeof address === 'string' ? address : null;
};

/**
 * The address a script passes to `connect`, `start`, `bind` or `send`, as MonaServer reads it: a
 * port alone (on `portOnlyHost`: the wildcard to listen, loopback to reach), "host:port", a host
 * and a port, an object with an "ip:port" `address` (a mesh server), a SocketAddress object, or an
 * IPAddress object and a port. Throws for anything else.
 */
export const readAddress = (args: readonly unknown[], portOnlyHost: string): SocketAddress => {
  const [first, second] = args;
  if (typeof first === 'number') {
    const port = portOf(first);
    if (port === null) {
      throw new Error(`invalid port ${first}`);
    }
    return { host: portOnlyHost, port };
  }
  if (typeof first === 'string' || Buffer.isBuffer(first)) {
    const text = first.toString();
    return typeof second === 'number' || typeof second === 'string' ? parseAddress(text, second) : parseAddress(text);
  }
  if (typeof first === 'object' && first !== null) {
    const address = addressField(first);
    if (address !== null) {
      return parseAddress(address);
    }
    // mona:createSocketAddress objects ("ip:port" `value` and a `port`), mona:createIPAddress
    // objects (an IP `value`) with a port after them (addressObjects.ts; Lua gives their fields).
    const { value, port } = first as { value?: unknown; port?: unknown };
    if (typeof value === 'string') {
      return typeof port === 'number' ? parseAddress(value) : parseAddress(value, second ?? 0);
    }
  }
  throw new Error('No valid SocketAddress available to read');
};

/** 'udp4' or 'udp6' for a host: a name resolves as IPv4 (Node's default lookup for udp4). */
export const udpType = (host: string): 'udp4' | 'udp6' => (isIP(host) === 6 ? 'udp6' : 'udp4');
