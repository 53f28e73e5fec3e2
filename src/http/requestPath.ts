import type { IncomingMessage } from 'node:http';

/**
 * A request target as MonaServer splits it: the folder (`client.path`, the application's path)
 * and the file (the last segment, "" for a folder). Validated at the edge: every segment is
 * percent-decoded once, and a segment that decodes to a separator, a NUL, or a parent reference
 * (`..`, `%2e%2e`, `%2F` inside a segment) makes the whole request invalid, so a path that
 * reaches the file system can never leave `www/`.
 */
export interface RequestPath {
  /** "" for the root, "/a/b" otherwise (no trailing slash). */
  readonly path: string;
  /** Last segment, "" when the target ends with "/". */
  readonly file: string;
  /** Decoded segments of the folder. */
  readonly segments: readonly string[];
  /** Query string without "?" ("" when none). */
  readonly query: string;
  readonly parameters: Record<string, string>;
}

const FORBIDDEN = /[/\\\0]/;

/** Parses `url` (the request target); null when it is malformed or tries to leave its root. */
export const parseRequestPath = (url: string): RequestPath | null => {
  if (url.length === 0 || url[0] !== '/') {
    return null;
  }
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const decoded: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') {
      continue;
    }
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (FORBIDDEN.test(segment) || segment === '..') {
      return null;
    }
    if (segment !== '.') {
      decoded.push(segment);
    }
  }
  const folder = rawPath.endsWith('/') ? decoded : decoded.slice(0, -1);
  const file = rawPath.endsWith('/') ? '' : (decoded.at(-1) ?? '');
  const parameters: Record<string, string> = {};
  try {
    for (const [k, v] of new URLSearchParams(query)) {
      parameters[k] = v;
    }
  } catch {
    return null;
  }
  return {
    path: folder.length === 0 ? '' : `/${folder.join('/')}`,
    file,
    segments: folder,
    query,
    parameters,
  };
};

/**
 * What MonaServer gives a script as `client.properties` for an HTTP request or a WebSocket
 * upgrade: `version`, every header under the name as it was sent (`client["Cookie"]`) and in
 * lower case, then every cookie by its name.
 */
export const requestProperties = (req: IncomingMessage): Record<string, unknown> => {
  const properties: Record<string, unknown> = { version: req.httpVersion };
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const value = req.headers[lower];
    const text = Array.isArray(value) ? value.join(', ') : (value ?? raw[i + 1]);
    properties[name] = text;
    properties[lower] = text;
  }
  return Object.assign(properties, parseCookies(req.headers.cookie));
};

/** Cookie header → name/value pairs (RFC 6265 §5.4; values kept as sent, quotes removed). */
export const parseCookies = (header: string | undefined): Record<string, string> => {
  const cookies: Record<string, string> = {};
  if (header === undefined) {
    return cookies;
  }
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      continue;
    }
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (name !== '') {
      try {
        cookies[name] = decodeURIComponent(value);
      } catch {
        cookies[name] = value;
      }
    }
  }
  return cookies;
};

export interface CookieOptions {
  expires?: number | string | Date;
  path?: string;
  domain?: string;
  secure?: boolean;
  httponly?: boolean;
  samesite?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A Set-Cookie value as `client.properties(key, value, {expires, path, domain, secure, httponly})`
 * asks for. `expires`: a Date, a date string, or a number of seconds from now (MonaServer's form).
 */
export const formatSetCookie = (name: string, value: string, options: CookieOptions = {}): string => {
  if (!TOKEN.test(name)) {
    throw new TypeError(`invalid cookie name "${name}"`);
  }
  let cookie = `${name}=${encodeURIComponent(value)}`;
  const expires = options.expires;
  if (expires !== undefined) {
    const date = expires instanceof Date ? expires : typeof expires === 'number' ? new Date(Date.now() + expires * 1000) : new Date(expires);
    if (!Number.isNaN(date.getTime())) {
      cookie += `; Expires=${date.toUTCString()}`;
    }
  }
  const attr = (key: string, v: string | undefined): void => {
    if (v !== undefined && v !== '' && !/[;\r\n]/.test(v)) {
      cookie += `; ${key}=${v}`;
    }
  };
  attr('Path', options.path);
  attr('Domain', options.domain);
  attr('SameSite', options.samesite);
  if (options.secure === true) {
    cookie += '; Secure';
  }
  if (options.httponly === true) {
    cookie += '; HttpOnly';
  }
  return cookie;
};
