import { createReadStream, promises as fs, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { contentTypeOf, isTextType } from './mime.js';
import { sendText } from './responses.js';
import { textOf } from '../util/text.js';

/** Templates are read whole: past this a file is served as it is. */
const MAX_TEMPLATE_BYTES = 4 * 1024 * 1024;

/**
 * The file system side of an HTTP app (`www/<app>/`): a path is first resolved through its
 * symlinks and must still be inside the real `www/` folder, so a link pointing out of it serves
 * nothing. Files go with their type, validators (ETag, Last-Modified), conditional requests (304)
 * and single byte ranges (206/416).
 */
export class StaticFiles {
  private realRoot: string | null = null;

  constructor(private readonly root: string) {}

  /** The real path of `segments` under the root with its stats, or null when absent or outside. */
  async resolve(segments: readonly string[]): Promise<{ file: string; stats: Stats } | null> {
    const root = await this.rootPath();
    if (root === null) {
      return null;
    }
    let real: string;
    try {
      real = await fs.realpath(join(root, ...segments));
    } catch {
      return null;
    }
    if (real !== root && !real.startsWith(root + sep)) {
      return null;
    }
    try {
      return { file: real, stats: await fs.stat(real) };
    } catch {
      return null;
    }
  }

  private async rootPath(): Promise<string | null> {
    if (this.realRoot === null) {
      try {
        this.realRoot = await fs.realpath(this.root);
      } catch {
        return null;
      }
    }
    return this.realRoot;
  }

  /** Serves a regular file (GET or HEAD); `properties` makes it a template (`<% key %>`). */
  async serve(req: IncomingMessage, res: ServerResponse, file: string, stats: Stats, properties: Record<string, unknown> | null = null): Promise<void> {
    const type = contentTypeOf(file);
    const head = req.method === 'HEAD';
    res.setHeader('Content-Type', type);
    if (properties !== null && isTextType(type) && stats.size <= MAX_TEMPLATE_BYTES) {
      // A template's output depends on the script: never cached.
      const body = Buffer.from(applyTemplate(await fs.readFile(file, 'utf8'), properties), 'utf8');
      res.setHeader('Cache-Control', 'no-cache, no-store');
      res.setHeader('Content-Length', body.length);
      res.end(head ? undefined : body);
      return;
    }
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
    const modified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', modified.toUTCString());
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Accept-Ranges', 'bytes');
    if (notModified(req, etag, modified)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    let start = 0;
    let end = stats.size - 1;
    const range = req.headers.range;
    if (range !== undefined && (req.headers['if-range'] === undefined || req.headers['if-range'] === etag)) {
      const parsed = parseRange(range, stats.size);
      if (parsed === 'unsatisfiable') {
        res.setHeader('Content-Range', `bytes */${stats.size}`);
        sendText(res, 416, 'Range Not Satisfiable');
        return;
      }
      if (parsed !== null) {
        [start, end] = parsed;
        res.statusCode = 206;
        res.setHeader('Content-Range', `bytes ${start}-${end}/${stats.size}`);
      }
    }
    res.setHeader('Content-Length', Math.max(0, end - start + 1));
    if (head || stats.size === 0) {
      res.end();
      return;
    }
    try {
      await pipeline(createReadStream(file, { start, end }), res);
    } catch {
      // The client went away, or the file vanished mid-way: the connection is closed either way.
      res.destroy();
    }
  }
}

const notModified = (req: IncomingMessage, etag: string, modified: Date): boolean => {
  const match = req.headers['if-none-match'];
  if (match !== undefined) {
    return match.split(',').some((t) => {
      const tag = t.trim();
      return tag === '*' || tag === etag || `W/${tag}` === etag;
    });
  }
  const since = req.headers['if-modified-since'];
  if (since !== undefined) {
    const time = Date.parse(since);
    return !Number.isNaN(time) && modified.getTime() <= time;
  }
  return false;
};

/**
 * `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; several ranges get the whole file, which
 * RFC 9110 allows). null: ignore the header; 'unsatisfiable': 416.
 */
export const parseRange = (header: string, size: number): [number, number] | null | 'unsatisfiable' => {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) {
    return null;
  }
  const [, a, b] = m;
  if (a === '' && b === '') {
    return null;
  }
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) {
      return 'unsatisfiable';
    }
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) {
      return null;
    }
  }
  if (start >= size || !Number.isSafeInteger(start)) {
    return 'unsatisfiable';
  }
  return [start, end];
};

/** MonaServer's templates: `<% key %>` replaced by the property's value ("" when absent). */
export const applyTemplate = (text: string, properties: Record<string, unknown>): string =>
  text.replace(/<%\s*([\w.-]+)\s*%>/g, (_, key: string) => {
    const value = properties[key];
    return textOf(value);
  });

/** A folder listing (HTTP.index=true and no index.html), names escaped. */
export const listingPage = async (dir: string, urlPath: string): Promise<string> => {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const rows = entries
    .filter((e) => !e.name.startsWith('.'))
    .sort((x, y) => Number(y.isDirectory()) - Number(x.isDirectory()) || x.name.localeCompare(y.name))
    .map((e) => {
      const name = e.isDirectory() ? `${e.name}/` : e.name;
      return `<li><a href="${escapeHtml(encodeURIComponent(e.name) + (e.isDirectory() ? '/' : ''))}">${escapeHtml(name)}</a></li>`;
    });
  const title = escapeHtml(`Index of ${urlPath}`);
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><ul>${rows.join('')}</ul></body></html>`;
};

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
