import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { formatAddress, parseAddress } from './SocketAddress.js';

/**
 * MonaServer's IPAddress and SocketAddress script objects (LUAIPAddress.cpp, LUASocketAddress.cpp,
 * MonaBase IPAddress/SocketAddress), made by `mona:createIPAddress[WithDNS]` and
 * `mona:createSocketAddress[WithDNS]`. Values: once made they never change. JS apps get these
 * classes; Lua apps get tables built from `fields()` (prelude.ts). Script sockets accept both
 * (SocketAddress.ts readAddress).
 */

const DNS_TIMEOUT_MS = 2000;
const DNS_CACHE_MS = 60_000;
const dnsCache = new Map<string, { ip: string | null; error: string; until: number }>();

/**
 * A name resolved synchronously, as MonaServer's DNS::HostByName blocks its caller: a Lua call
 * (and a JS app's call in its worker) must return the address. Node's resolver is asynchronous,
 * so a child `node` runs `dns.lookup` (getaddrinfo: /etc/hosts, then DNS), bounded to 2 s;
 * answers (and failures) are kept a minute. IPv4 first when a name has both, as MonaServer.
 */
const resolveSync = (name: string): string => {
  const key = name.toLowerCase();
  const cached = dnsCache.get(key);
  if (cached !== undefined && cached.until > Date.now()) {
    if (cached.ip === null) {
      throw new Error(cached.error);
    }
    return cached.ip;
  }
  let ip: string | null = null;
  let error = '';
  try {
    const script =
      "require('dns').lookup(process.argv[1],{all:true},(e,a)=>{if(e){process.stdout.write('!'+e.code);return}" +
      "const v4=a.find(x=>x.family===4);process.stdout.write((v4||a[0]||{address:''}).address)})";
    const out = execFileSync(process.execPath, ['-e', script, name], { timeout: DNS_TIMEOUT_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (out.startsWith('!') || isIP(out) === 0) {
      error = `Host ${name} not found${out.startsWith('!') ? ` (${out.slice(1)})` : ''}`;
    } else {
      ip = out;
    }
  } catch {
    error = `Host ${name} not resolved in ${DNS_TIMEOUT_MS} ms`;
  }
  dnsCache.set(key, { ip, error, until: Date.now() + DNS_CACHE_MS });
  if (dnsCache.size > 256) {
    dnsCache.delete(dnsCache.keys().next().value as string);
  }
  if (ip === null) {
    throw new Error(error);
  }
  return ip;
};

/** 4 or 16 bytes of an IP literal ("localhost" is 127.0.0.1, as IPv4Address::Parse), or null. */
const ipBytes = (text: string): Buffer | null => {
  const host = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (host.toLowerCase() === 'localhost') {
    return Buffer.from([127, 0, 0, 1]);
  }
  const kind = isIP(host);
  if (kind === 4) {
    return Buffer.from(host.split('.').map(Number));
  }
  if (kind !== 6 || host.includes('%')) {
    return null;
  }
  // Expand "::" and a trailing dotted IPv4 part into 8 words.
  let text6 = host;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text6);
  if (dotted !== null) {
    const b = dotted[1].split('.').map(Number);
    text6 = `${text6.slice(0, -dotted[1].length)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text6.includes('::') ? text6.split('::') : [text6, null];
  const headWords = head === '' ? [] : head.split(':');
  const tailWords = tail === null || tail === '' ? [] : tail.split(':');
  const words = tail === null ? headWords : [...headWords, ...Array<string>(8 - headWords.length - tailWords.length).fill('0'), ...tailWords];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
};

const ipText = (bytes: Buffer): string => {
  if (bytes.length === 4) {
    return [...bytes].join('.');
  }
  const words = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // The longest run of zero words (two at least) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === '0') {
      j++;
    }
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  return best < 0 ? words.join(':') : `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
};

/** An IP address (MonaServer IPAddress): `value`, `isIPv6` and the predicates of LUAIPAddress::Get. */
export class IPAddress {
  private readonly bytes: Buffer;

  constructor(bytes: Buffer) {
    this.bytes = Buffer.from(bytes);
  }

  /** An IP literal, "localhost", or (withDNS) a name resolved now; throws MonaServer's message. */
  static parse(text: string, withDNS = false): IPAddress {
    const bytes = ipBytes(text);
    if (bytes !== null) {
      return new IPAddress(bytes);
    }
    if (!withDNS || text.trim() === '') {
      throw new Error(`Invalid ip ${text}`);
    }
    return new IPAddress(ipBytes(resolveSync(text.trim())) as Buffer);
  }

  static wildcard(): IPAddress {
    return new IPAddress(Buffer.alloc(4));
  }

  get isIPv6(): boolean { return this.bytes.length === 16; }
  get value(): string { return ipText(this.bytes); }
  private get v4(): number { return this.bytes.readUInt32BE(0); }
  private get w0(): number { return this.bytes.readUInt16BE(0); }
  private words(from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      if (this.bytes.readUInt16BE(i * 2) !== 0) {
        return false;
      }
    }
    return true;
  }

  get isWildcard(): boolean { return this.isIPv6 ? this.words(0, 8) : this.v4 === 0; }
  get isBroadcast(): boolean { return !this.isIPv6 && this.v4 === 0xffffffff; }
  get isAnyBroadcast(): boolean { return !this.isIPv6 && (this.v4 & 0xff) === 0xff; }
  get isLoopback(): boolean { return this.isIPv6 ? this.words(0, 7) && this.bytes.readUInt16BE(14) === 1 : this.bytes[0] === 127; }
  get isMulticast(): boolean { return this.isIPv6 ? (this.w0 & 0xffe0) === 0xff00 : (this.bytes[0] & 0xf0) === 0xe0; }
  get isUnicast(): boolean { return !this.isWildcard && !this.isAnyBroadcast && !this.isMulticast; }
  get isLinkLocal(): boolean { return this.isIPv6 ? (this.w0 & 0xffe0) === 0xfe80 : this.bytes[0] === 169 && this.bytes[1] === 254; }
  get isSiteLocal(): boolean {
    if (this.isIPv6) {
      return (this.w0 & 0xffe0) === 0xfec0;
    }
    const [a, b] = this.bytes;
    return a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31);
  }
  // MonaServer's IPv4 answers true to both; IPv6: ::a.b.c.d and ::ffff:a.b.c.d.
  get isIPv4Compatible(): boolean { return !this.isIPv6 || this.words(0, 6); }
  get isIPv4Mapped(): boolean { return !this.isIPv6 || (this.words(0, 5) && this.bytes.readUInt16BE(10) === 0xffff); }
  get isWellKnownMC(): boolean { return this.isIPv6 ? (this.w0 & 0xfff0) === 0xff00 : (this.v4 & 0xffffff00) >>> 0 === 0xe0000000; }
  get isNodeLocalMC(): boolean { return this.isIPv6 && (this.w0 & 0xffef) === 0xff01; }
  get isLinkLocalMC(): boolean { return this.isIPv6 ? (this.w0 & 0xffef) === 0xff02 : this.bytes[0] === 0xe0; }
  get isSiteLocalMC(): boolean { return this.isIPv6 ? (this.w0 & 0xffef) === 0xff05 : this.bytes[0] === 239 && this.bytes[1] === 255; }
  get isOrgLocalMC(): boolean { return this.isIPv6 ? (this.w0 & 0xffef) === 0xff08 : this.bytes[0] === 239 && this.bytes[1] === 192; }
  get isGlobalMC(): boolean { return this.isIPv6 ? (this.w0 & 0xffef) === 0xff0f : this.v4 >= 0xe0000100 && this.v4 <= 0xee000000; }
  get isLocal(): boolean {
    return this.isWildcard || this.isLoopback || this.isSiteLocal || this.isLinkLocal || this.isAnyBroadcast ||
      this.isNodeLocalMC || this.isLinkLocalMC || this.isSiteLocalMC || this.isOrgLocalMC;
  }

  /** Orders as MonaServer: IPv4 before IPv6, then byte by byte. */
  compare(other: IPAddress): number {
    return this.bytes.length - other.bytes.length || Buffer.compare(this.bytes, other.bytes);
  }

  equals(other: unknown): boolean {
    return other instanceof IPAddress && this.compare(other) === 0;
  }

  /** "4:" or "6:" and the bytes in hex: sorts as compare() (Lua's comparisons use it). */
  get key(): string { return `${this.bytes.length === 4 ? 4 : 6}:${this.bytes.toString('hex')}`; }

  toString(): string { return this.value; }
  toJSON(): string { return this.value; }
}

/** An IP address and a port (MonaServer SocketAddress): `host` (IPAddress), `port`, `value`, `isIPv6`. */
export class SocketAddress {
  constructor(readonly host: IPAddress, readonly port: number) {}

  static wildcard(): SocketAddress {
    return new SocketAddress(IPAddress.wildcard(), 0);
  }

  get isIPv6(): boolean { return this.host.isIPv6; }
  get value(): string { return formatAddress(this.host.value, this.port); }
  /** What script sockets read (SocketAddress.ts readAddress reads objects with an "ip:port" `address`). */
  get address(): string { return this.value; }

  compare(other: SocketAddress): number {
    return this.host.compare(other.host) || this.port - other.port;
  }

  equals(other: unknown): boolean {
    return other instanceof SocketAddress && this.compare(other) === 0;
  }

  get key(): string { return `${this.host.key}:${this.port.toString(16).padStart(4, '0')}`; }

  toString(): string { return this.value; }
  toJSON(): string { return this.value; }
}

/** A port as MonaServer's resolveService reads it: a number 0..65535 (a service name is refused). */
const portOf = (value: unknown): number => {
  const n = typeof value === 'number' ? Math.trunc(value) : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`invalid port ${typeof value === 'string' || typeof value === 'number' ? value : typeof value}`);
  }
  return n;
};

/** Lua's view of an address table (the fields the prelude sets), read back as an object. */
interface AddressRecord {
  value?: unknown;
  port?: unknown;
  host?: unknown;
}

const asIP = (value: unknown): IPAddress | null => {
  if (value instanceof IPAddress) {
    return value;
  }
  const record = value as AddressRecord | null;
  if (typeof record === 'object' && record !== null && typeof record.value === 'string' && record.port === undefined) {
    return IPAddress.parse(record.value);
  }
  return null;
};

const asSocket = (value: unknown): SocketAddress | null => {
  if (value instanceof SocketAddress) {
    return value;
  }
  const record = value as AddressRecord | null;
  if (typeof record === 'object' && record !== null && typeof record.port === 'number' && typeof record.value === 'string') {
    const parsed = parseAddress(record.value);
    return new SocketAddress(IPAddress.parse(parsed.host), parsed.port);
  }
  return null;
};

/** A mesh server (or anything with an "ip:port" `address`). */
const addressOf = (value: unknown): string | null => {
  const address = typeof value === 'object' && value !== null ? (value as { address?: unknown }).address : undefined;
  return typeof address === 'string' ? address : null;
};

/**
 * `mona:createIPAddress[WithDNS](value)` as LUAIPAddress::Read: nothing → the wildcard, a string
 * (an IP, "localhost", with DNS a name), an IPAddress (a copy), a SocketAddress (its host), a
 * server (its host). Throws "No valid IPAddress available to read" for anything else.
 */
export const createIPAddress = (args: readonly unknown[], withDNS: boolean): IPAddress => {
  if (args.length === 0) {
    return IPAddress.wildcard();
  }
  const [first] = args;
  if (typeof first === 'string') {
    return IPAddress.parse(first, withDNS);
  }
  const ip = asIP(first) ?? asSocket(first)?.host ?? null;
  if (ip !== null) {
    return new IPAddress(Buffer.from(ip.key.slice(2), 'hex'));
  }
  const address = addressOf(first);
  if (address !== null) {
    return IPAddress.parse(parseAddress(address).host);
  }
  throw new Error('No valid IPAddress available to read');
};

/**
 * `mona:createSocketAddress[WithDNS](...)` as LUASocketAddress::Read: nothing → 0.0.0.0:0, a port
 * alone (on the wildcard), "host:port", a host and a port (number or numeric string), a
 * SocketAddress (a copy), an IPAddress and a port (0 without), a server (its address).
 */
export const createSocketAddress = (args: readonly unknown[], withDNS: boolean): SocketAddress => {
  if (args.length === 0) {
    return SocketAddress.wildcard();
  }
  const [first, second] = args;
  if (typeof first === 'number') {
    return new SocketAddress(IPAddress.wildcard(), portOf(first));
  }
  if (typeof first === 'string') {
    if (typeof second === 'string' || typeof second === 'number') {
      return new SocketAddress(IPAddress.parse(first, withDNS), portOf(second));
    }
    const colon = first.lastIndexOf(':');
    if (colon < 0) {
      throw new Error(`Missing port number in ${first}`);
    }
    return new SocketAddress(IPAddress.parse(first.slice(0, colon), withDNS), portOf(first.slice(colon + 1)));
  }
  const socket = asSocket(first);
  if (socket !== null) {
    return new SocketAddress(socket.host, socket.port);
  }
  const ip = asIP(first);
  if (ip !== null) {
    return new SocketAddress(ip, second === undefined || second === null ? 0 : portOf(second));
  }
  const address = addressOf(first);
  if (address !== null) {
    const parsed = parseAddress(address);
    return new SocketAddress(IPAddress.parse(parsed.host), parsed.port);
  }
  throw new Error('No valid SocketAddress available to read');
};

/** Lua's table of an IPAddress: every field of LUAIPAddress::Get, and the comparison key. */
export const ipFields = (ip: IPAddress): Record<string, unknown> => ({
  value: ip.value, isIPv6: ip.isIPv6, isWildcard: ip.isWildcard, isBroadcast: ip.isBroadcast, isAnyBroadcast: ip.isAnyBroadcast,
  isLoopback: ip.isLoopback, isMulticast: ip.isMulticast, isUnicast: ip.isUnicast, isLinkLocal: ip.isLinkLocal,
  isSiteLocal: ip.isSiteLocal, isIPv4Compatible: ip.isIPv4Compatible, isIPv4Mapped: ip.isIPv4Mapped,
  isWellKnownMC: ip.isWellKnownMC, isNodeLocalMC: ip.isNodeLocalMC, isLinkLocalMC: ip.isLinkLocalMC,
  isSiteLocalMC: ip.isSiteLocalMC, isOrgLocalMC: ip.isOrgLocalMC, isGlobalMC: ip.isGlobalMC, isLocal: ip.isLocal,
});

/**
 * What `mona:dump(name, data[, size])` logs, in MonaServer's Util::Dump layout: a header
 * ("NAME=> rest of name" when the name has several words), then per 16 bytes a tab, the bytes in
 * upper-case hex, and the bytes as text (below 32: '.').
 */
export const dumpLines = (name: string, data: Buffer, size?: number): string => {
  const count = size === undefined || !Number.isFinite(size) || size < 0 || size > data.length ? data.length : Math.floor(size);
  const match = /^(\S*)\s*(.*)$/s.exec(name) as RegExpExecArray;
  const header = `${match[1]}=> ${match[2]}`.trimEnd();
  const lines = [header];
  for (let at = 0; at < count; at += 16) {
    const row = data.subarray(at, Math.min(count, at + 16));
    const hex = [...row].map((b) => `${b.toString(16).toUpperCase().padStart(2, '0')} `).join('').padEnd(48, ' ');
    const text = [...row].map((b) => (b > 31 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`\t${hex} ${text}`);
  }
  return lines.join('\n');
};
