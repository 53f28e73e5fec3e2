/**
 * Endpoint discriminators (RFC 7425 §4.4, rtmfp.md §1.4): the option list an IHello names its
 * target with. Flash puts the whole `rtmfp://host[:port]/app...` URL in an ancillary-data option
 * (0x0A); librtmfp only the path ("live"); a P2P IHello carries the target's peer ID as a
 * fingerprint option (0x0F, 32 bytes, encoded `21 0F <id>`). Options are parsed generically:
 * a URL of 128 bytes or more has a 2-byte option length.
 */
import { OptionReader, OptionsEnd, encodeOptions } from './options.js';

export const EpdOption = {
  REQUIRED_HOSTNAME: 0x00,
  ANCILLARY_DATA: 0x0a,
  FINGERPRINT: 0x0f,
} as const;

export const PEER_ID_SIZE = 32;

/** What an EPD names: a URL (client-server), a peer ID (rendezvous), or a bare hostname. */
export interface ParsedEpd {
  url: string | null;
  peerId: Buffer | null;
  hostname: string | null;
}

const reader = new OptionReader();

/**
 * Parses an EPD; null if its option list is malformed or names nothing we know. `peerId` is a
 * view into `epd`.
 */
export function parseEpd(epd: Buffer): ParsedEpd | null {
  const r = reader.reset(epd, 0, epd.length);
  let url: string | null = null;
  let peerId: Buffer | null = null;
  let hostname: string | null = null;
  while (r.next()) {
    switch (r.type) {
      case EpdOption.ANCILLARY_DATA: {
        url = epd.toString('utf8', r.valueStart, r.valueEnd);
        break;
      }
      case EpdOption.FINGERPRINT: {
        if (r.valueEnd - r.valueStart === PEER_ID_SIZE) {
          peerId = epd.subarray(r.valueStart, r.valueEnd);
        }
        break;
      }
      case EpdOption.REQUIRED_HOSTNAME: {
        hostname = epd.toString('utf8', r.valueStart, r.valueEnd);
        break;
      }
      default: {
        break;
      }
    }
  }
  if (r.ended === OptionsEnd.MALFORMED || (url === null && peerId === null && hostname === null)) {
    return null;
  }
  return { url, peerId, hostname };
}

/** EPD of a client-server IHello: the URL as ancillary data. */
export const epdForUrl = (url: string): Buffer => encodeOptions([[EpdOption.ANCILLARY_DATA, Buffer.from(url, 'utf8')]], false);

/** EPD of a rendezvous IHello: `21 0F <peer ID>`. */
export const epdForPeerId = (peerId: Uint8Array): Buffer => encodeOptions([[EpdOption.FINGERPRINT, peerId]], false);

/** An EPD URL split for the `onHandshake` hook and the connect. */
export interface RtmfpUrl {
  /** "" when the EPD carried only a path. */
  host: string;
  /** 0 when absent. */
  port: number;
  /** "" for the root, "/a/b" otherwise (as `core` paths are). */
  path: string;
  /** Query parameters. */
  properties: Record<string, string>;
}

const normalizePath = (raw: string): string => {
  const parts = raw.split('/').filter((s) => s !== '');
  return parts.length === 0 ? '' : `/${parts.join('/')}`;
};

const parseQuery = (query: string): Record<string, string> => {
  const properties: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    properties[key] = value;
  }
  return properties;
};

/** Splits `rtmfp://host:port/app/x?a=b` (or a bare "app/x?a=b", as librtmfp sends). Never throws. */
export function parseRtmfpUrl(text: string): RtmfpUrl {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const u = new URL(text);
      const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      return { host, port: u.port === '' ? 0 : Number(u.port), path: normalizePath(decodeURIComponent(u.pathname)), properties: parseQuery(u.search) };
    } catch {
      // Fall through: treat it as a path.
    }
  }
  const q = text.indexOf('?');
  return {
    host: '',
    port: 0,
    path: normalizePath(q >= 0 ? text.slice(0, q) : text),
    properties: q >= 0 ? parseQuery(text.slice(q + 1)) : {},
  };
}
