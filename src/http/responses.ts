import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS for every answer: the page of another origin (a player on a CDN, an app's page served
 * elsewhere) may read streams, files and the API, as MonaServer allows (`Access-Control-Allow-Origin`
 * echoes the origin). Credentials are allowed only for an origin named by the request.
 */
export const setCors = (req: IncomingMessage, res: ServerResponse): void => {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  } else {
    res.setHeader('Access-Control-Allow-Origin', '*');
  }
};

/** OPTIONS preflight: what the browser may send. */
export const sendPreflight = (req: IncomingMessage, res: ServerResponse): void => {
  setCors(req, res);
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, OPTIONS');
  const asked = req.headers['access-control-request-headers'];
  res.setHeader('Access-Control-Allow-Headers', typeof asked === 'string' && /^[\w\-, ]{0,512}$/.test(asked) ? asked : 'Content-Type, Authorization, Range');
  res.setHeader('Access-Control-Max-Age', '86400');
  res.setHeader('Content-Length', 0);
  res.statusCode = 204;
  res.end();
};

export const sendText = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(text, 'utf8');
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) {
    res.setHeader(k, v);
  }
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
};

/** `writer:writeRaw` bytes as the answer: "200 OK", text/plain (MonaServer's HTTPWriter::writeRaw). */
export const sendRaw = (res: ServerResponse, body: Buffer, head = false): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/plain');
  res.setHeader('Cache-Control', 'no-cache, no-store');
  res.setHeader('Content-Length', body.length);
  res.end(head ? undefined : body);
};

export const sendJson = (res: ServerResponse, status: number, value: unknown, head = false): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify(value, jsonReplacer), 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-store');
  res.setHeader('Content-Length', body.length);
  res.end(head ? undefined : body);
};

/** Values scripts return that JSON has no form for: bytes as strings, Maps as objects, bigints as numbers. */
export const jsonReplacer = (_key: string, value: unknown): unknown => {
  if (typeof value === 'bigint') {
    return Number(value);
  }
  if (value instanceof Map) {
    return Object.fromEntries(value);
  }
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('latin1');
  }
  return value;
};
