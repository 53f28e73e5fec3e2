import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/Config.js';

/**
 * What an instance tells its peers in HELLO. MonaServer sent every config value (file paths and any
 * secret in the ini included); Nimbus sends only what a peer needs to redirect clients here:
 * `publicHost`, each protocol's port and public address, `servers.port`. Keys starting with
 * `nimbus.` are the link's own (version, heartbeat, challenge) and are not shown to scripts.
 */
export const PUBLIC_KEYS = ['publicHost', 'RTMP.port', 'RTMFP.port', 'RTMFP.publicAddress', 'servers.port'] as const;

export const NIMBUS_VERSION = 'nimbus.version';
export const NIMBUS_HEARTBEAT = 'nimbus.heartbeat';
export const NIMBUS_NONCE = 'nimbus.nonce';
export const NIMBUS_PROOF = 'nimbus.proof';

/** The link protocol version this code speaks (AUTH and PING control frames). */
export const LINK_VERSION = '1';

const loopbackOrAny = (host: string): boolean =>
  host === '' || host === '0.0.0.0' || host === '::' || host === 'localhost' || host.startsWith('127.') || host === '::1';

/** The public settings of this instance, as HELLO carries them. */
export const publicSettings = (config: Config): Map<string, string> => {
  const settings = new Map<string, string>();
  const rtmfpPublic = config.rtmfp.publicAddress;
  const values: Record<(typeof PUBLIC_KEYS)[number], string> = {
    publicHost: config.publicHost,
    'RTMP.port': String(config.rtmp.port),
    'RTMFP.port': String(config.rtmfp.port),
    'RTMFP.publicAddress': config.rtmfp.port === 0 || rtmfpPublic === '' ? '' : hasPort(rtmfpPublic) ? rtmfpPublic : `${rtmfpPublic}:${config.rtmfp.port}`,
    'servers.port': String(config.servers.port),
  };
  for (const key of PUBLIC_KEYS) {
    if (values[key] !== '') {
      settings.set(key, values[key]);
    }
  }
  return settings;
};

/** True for "host:port" and "[v6]:port"; false for a bare host or IPv6 address. */
export const hasPort = (address: string): boolean => /^\[.*\]:\d+$/.test(address) || /^[^:]+:\d+$/.test(address);

const splitHost = (address: string): string => {
  const v6 = /^\[(.*)\]:\d+$/.exec(address);
  if (v6 !== null) {
    return v6[1];
  }
  return hasPort(address) ? address.slice(0, address.lastIndexOf(':')) : address;
};

/**
 * Where clients of `protocol` reach the peer whose settings are `configs`, seen from `tcpHost` (the
 * IP its link comes from): its `<protocol>.publicAddress`, else its `publicHost`, else `tcpHost`,
 * with its `<protocol>.port` added when no port is given. A loopback or wildcard host is replaced
 * by `tcpHost` when that is not loopback itself (as MonaServer does). Null when the peer has the
 * protocol disabled.
 */
export const peerPublicAddress = (configs: Readonly<Record<string, string>>, protocol: string, tcpHost: string): string | null => {
  const port = configs[`${protocol}.port`];
  if (port === undefined || port === '0') {
    return null;
  }
  let address = configs[`${protocol}.publicAddress`] ?? '';
  if (address === '') {
    address = configs.publicHost ?? '';
  }
  if (address === '') {
    address = tcpHost;
  }
  if (!hasPort(address)) {
    address = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  }
  const host = splitHost(address);
  if (loopbackOrAny(host) && !loopbackOrAny(tcpHost)) {
    const p = address.slice(address.lastIndexOf(':') + 1);
    address = `${tcpHost.includes(':') ? `[${tcpHost}]` : tcpHost}:${p}`;
  }
  return address;
};

/**
 * The optional shared secret (`servers.secret`), an improvement over MonaServer, whose mesh port
 * let any TCP client in: both sides send a random nonce in HELLO and each proves it knows the
 * secret with an HMAC of both nonces (the target first, in its HELLO; the initiator then in AUTH).
 * The secret itself never travels; a replayed proof is useless against fresh nonces.
 */
export const newNonce = (): string => randomBytes(16).toString('hex');

export const proof = (secret: string, role: 'target' | 'initiator', initiatorNonce: string, targetNonce: string): string =>
  createHmac('sha256', secret).update(`nimbus-mesh ${role} ${initiatorNonce} ${targetNonce}`).digest('hex');

export const proofMatches = (expected: string, given: string | undefined): boolean => {
  if (given === undefined || given.length !== expected.length) {
    return false;
  }
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
};
