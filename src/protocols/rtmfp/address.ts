/**
 * RTMFP socket addresses (RFC 7016 §2.1.5, rtmfp.md §1.4): one flag byte (0x80 = IPv6, low 2 bits
 * = origin), 4 or 16 address bytes, a big-endian port. Used by Redirect, FIHello and rendezvous.
 * Hosts are IP literals as text ("192.0.2.1", "2001:db8::1"); an IPv4-mapped IPv6 host
 * ("::ffff:192.0.2.1", what a dual-stack socket reports) is written as IPv4.
 */
import { formatIpv6, parseIpv4, parseIpv6 } from '../../util/ipLiteral.js';
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
