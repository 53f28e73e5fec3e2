/**
 * RTMFP socket addresses (RFC 7016 §2.1.5, rtmfp.md §1.4): one flag byte (0x80 = IPv6, low 2 bits
 * = origin), 4 or 16 address bytes, a big-endian port. Used by Redirect, FIHello and rendezvous.
 * Hosts are IP literals as text ("192.0.2.1", "2001:db8::1"); an IPv4-mapped IPv6 host
 * ("::ffff:192.0.2.1", what a dual-stack socket reports) is written as IPv4.
 */
import type { WireReader } from './WireReader.js';

/** Address origin (low 2 bits of the flag byte). */
export const AddressOrigin = {
  UNKNOWN: 0,
  /** Reported by the peer itself (setPeerInfo); MonaServer's "local". */
  REPORTED: 1,
  /** Observed by us (the packet's source); MonaServer's "public". */
  OBSERVED: 2,
  /** Relay / redirection (server) address. */
  RELAY: 3,
} as const;
export type AddressOrigin = (typeof AddressOrigin)[keyof typeof AddressOrigin];

const IPV6_FLAG = 0x80;

export interface RtmfpAddress {
  host: string;
  port: number;
  origin: AddressOrigin;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string, out: Uint8Array, offset: number): boolean {
  const m = IPV4.exec(text);
  if (m === null) {
    return false;
  }
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) {
      return false;
    }
    out[offset + i] = n;
  }
  return true;
}

function parseIpv6(text: string, out: Uint8Array): boolean {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = host.indexOf('%');
  const bare = zone >= 0 ? host.slice(0, zone) : host;
  const halves = bare.split('::');
  if (halves.length > 2) {
    return false;
  }
  const words: number[] = [];
  const tail: number[] = [];
  const parseGroups = (part: string, into: number[], allowV4: boolean): boolean => {
    if (part === '') {
      return true;
    }
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4(g, v4, 0)) {
          return false;
        }
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        into.push(parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (halves.length === 1) {
    if (!parseGroups(halves[0], words, true) || words.length !== 8) {
      return false;
    }
  } else if (!parseGroups(halves[0], words, false) || !parseGroups(halves[1], tail, true) || words.length + tail.length > 7) {
    return false;
  }
  while (words.length + tail.length < 8) {
    words.push(0);
  }
  words.push(...tail);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >>> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return true;
}

/**
 * The binary form of an IP literal: 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6, or
 * null if `host` is not an IP literal (names must be resolved by the caller).
 */
export function ipBytes(host: string): Buffer | null {
  const v4 = Buffer.allocUnsafe(4);
  if (parseIpv4(host, v4, 0)) {
    return v4;
  }
  const v6 = Buffer.allocUnsafe(16);
  if (!parseIpv6(host, v6)) {
    return null;
  }
  const mapped = v6.readUInt32BE(0) === 0 && v6.readUInt32BE(4) === 0 && v6.readUInt32BE(8) === 0xffff;
  return mapped ? Buffer.from(v6.subarray(12)) : v6;
}

/** RFC 5952 text of 16 address bytes (longest zero run of 2+ words compressed). */
function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push((bytes[i] << 8) | bytes[i + 1]);
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) {
      j++;
    }
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(':');
  return bestAt < 0 ? hex(0, 8) : `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** Reads one address; null if truncated. */
export function readAddress(r: WireReader): RtmfpAddress | null {
  const flags = r.u8();
  if (flags < 0) {
    return null;
  }
  const ip = r.bytes((flags & IPV6_FLAG) !== 0 ? 16 : 4);
  const port = r.u16();
  if (ip === null || port < 0) {
    return null;
  }
  const host = ip.length === 4 ? `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}` : formatIpv6(ip);
  return { host, port, origin: (flags & 3) as AddressOrigin };
}

/** Encoded size of `address`, or -1 if its host is not an IP literal. */
export function addressLength(address: RtmfpAddress): number {
  const ip = ipBytes(address.host);
  return ip === null ? -1 : 3 + ip.length;
}

/** Writes `address`; returns the offset after it, or -1 (nothing written) if the host is not an IP. */
export function writeAddress(buf: Uint8Array, offset: number, address: RtmfpAddress): number {
  const ip = ipBytes(address.host);
  if (ip === null) {
    return -1;
  }
  buf[offset] = (ip.length === 16 ? IPV6_FLAG : 0) | (address.origin & 3);
  buf.set(ip, offset + 1);
  const o = offset + 1 + ip.length;
  buf[o] = (address.port >>> 8) & 0xff;
  buf[o + 1] = address.port & 0xff;
  return o + 2;
}

/** "host:port", "[v6]:port" or "host" (default port) as from setPeerInfo or a hook; null if bad. */
export function parseHostPort(text: string, defaultPort: number, origin: AddressOrigin): RtmfpAddress | null {
  let host = text.trim();
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket !== null) {
    host = bracket[1];
    port = bracket[2] === undefined ? defaultPort : Number(bracket[2]);
    if (ipBytes(host) === null) {
      return null;
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && host.indexOf(':') === colon) {
      const digits = host.slice(colon + 1);
      port = /^\d+$/.test(digits) ? Number(digits) : -1;
      host = host.slice(0, colon);
    }
  }
  if (host === '' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    return null;
  }
  return { host, port, origin };
}

/** "host:port", with brackets for IPv6. */
export const formatAddress = (address: { host: string; port: number }): string =>
  address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
