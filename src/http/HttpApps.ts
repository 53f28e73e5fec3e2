import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Core } from '../core/Core.js';
import type { Client } from '../core/Client.js';
import { RejectionError, errorMessage } from '../errors.js';
import { Logger } from '../util/Logger.js';
import type { HttpConnection } from './HttpConnection.js';
import type { RequestPath } from './requestPath.js';
import { sendJson, sendRaw, sendText } from './responses.js';
import { forJs, type ScriptData } from '../scripting/serializers/ScriptData.js';
import { fromXmlRpc, toXmlRpc } from '../scripting/serializers/xmlRpc.js';
import { StaticFiles, listingPage } from './StaticFiles.js';
import { textOf } from '../util/text.js';

const log = new Logger('http');

/** What the HTTP side serves when no file of the app answers (live streams). */
export interface LiveFallback {
  /** True when it took the request (a `.flv`, `.m3u8`... of a publication). */
  serve(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client): Promise<boolean>;
}

export interface HttpAppOptions {
  /** HTTP.index: true (index.html, else a listing), false (403) or a file name. */
  index: boolean | string;
  maxBodySize: number;
}

/** A rejection as an HTTP status: an unknown app 404, a refusal 403, a script failure 500. */
export const statusOf = (err: unknown): number => {
  if (err instanceof RejectionError) {
    switch (err.code) {
      case 'MS_ERR_CONNECT_INVALID_APP':
        return 404;
      case 'MS_ERR_CONNECT_REJECTED':
      case 'MS_ERR_PLAY_REJECTED':
        return 403;
      default:
        return 500;
    }
  }
  return 500;
};

class BodyTooLarge extends Error {}

/**
 * Resolves once `res` is answered whole (or can no longer be: its connection closed), so the next
 * pipelined request's script runs after it. A close-delimited live stream holds its connection's
 * later requests until it ends, as HTTP/1.1 wants.
 */
const answeredOf = (res: ServerResponse, connection: HttpConnection): Promise<void> =>
  new Promise((resolve) => {
    const socket = connection.socket;
    const done = (): void => {
      res.off('finish', done);
      res.off('close', done);
      socket.off('close', done);
      resolve();
    };
    if (res.writableFinished || res.destroyed || socket.destroyed) {
      resolve();
      return;
    }
    res.once('finish', done);
    res.once('close', done);
    socket.once('close', done);
  });

/** An app's own scripts (www/<app>/main.*): never written by a PUT. */
const SCRIPT_FILES = new Set(['main.lua', 'main.js', 'main.mjs']);

/**
 * MonaServer's HTTP application model (mona-api.md §1.5): the files of `www/<app>/`, the folder
 * index, `client:onRead`, RPC by GET (a file name without extension that is a client method) and
 * by POST (a JSON body), and the live streams of the app's publications when no file answers.
 */
export class HttpApps {
  readonly files: StaticFiles;

  constructor(
    private readonly core: Core,
    wwwDir: string,
    private readonly options: HttpAppOptions,
    private readonly live: LiveFallback,
  ) {
    this.files = new StaticFiles(wwwDir);
  }

  /**
   * One request of `connection`, in its turn: pipelined requests (several written at once on a
   * keep-alive connection) run their scripts one after the other in the order they came, each
   * from its body's reading to its answer's last byte, so a script's messages and cookies are its
   * request's and a slow answer is never overtaken (Node keeps the answers' order; this keeps the
   * scripts' and what each writes).
   */
  handle(req: IncomingMessage, res: ServerResponse, target: RequestPath, connection: HttpConnection): Promise<void> {
    return connection.serialize(async () => {
      const answered = answeredOf(res, connection);
      try {
        await this.handleInTurn(req, res, target, connection);
      } finally {
        await answered;
      }
    });
  }

  private async handleInTurn(req: IncomingMessage, res: ServerResponse, target: RequestPath, connection: HttpConnection): Promise<void> {
    let client: Client;
    const withBody = req.method === 'POST' || req.method === 'PUT';
    const body = withBody ? await this.readBody(req, res) : null;
    if (withBody && body === null) {
      return;
    }
    try {
      client = await connection.clientFor(target, req);
    } catch (err) {
      sendText(res, statusOf(err), errorMessage(err));
      return;
    }
    connection.beginRequest();
    try {
      if (req.method === 'POST') {
        await this.post(req, res, target, client, connection, body ?? Buffer.alloc(0));
      } else if (req.method === 'PUT') {
        await this.put(res, target, client, connection, body ?? Buffer.alloc(0));
      } else {
        await this.get(req, res, target, client, connection);
      }
    } catch (err) {
      log.debug(`${connection.address} ${req.method ?? ''} ${req.url ?? ''}: ${errorMessage(err)}`);
      this.applyCookies(res, connection);
      sendText(res, statusOf(err), errorMessage(err));
    }
    if (connection.closeAfter) {
      res.once('finish', () => connection.socket.end());
    }
  }

  private applyCookies(res: ServerResponse, connection: HttpConnection): void {
    if (connection.cookies.length > 0 && !res.headersSent) {
      res.setHeader('Set-Cookie', connection.cookies);
    }
  }

  private async get(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client, connection: HttpConnection): Promise<void> {
    const head = req.method === 'HEAD';
    let file = target.file;
    // A name without extension that is one of the client's methods: RPC with the query's parameters.
    if (file !== '' && extname(file) === '' && this.core.hooks.callIfDefined !== undefined) {
      const values = await this.core.hooks.callIfDefined(client, file, [{ ...target.parameters }]);
      if (values !== null) {
        this.answer(res, connection, values, head);
        return;
      }
    }
    let properties: Record<string, unknown> | null = null;
    if (this.core.hooks.onRead !== undefined && file !== '') {
      const decision = await this.core.hooks.onRead(client, file, { ...target.parameters });
      this.applyCookies(res, connection);
      if (decision !== undefined) {
        if (decision.forbidden) {
          sendText(res, 403, `Access to ${target.path}/${file} forbidden`);
          return;
        }
        file = decision.file;
        properties = decision.properties;
      }
    }
    if (file === '') {
      // MonaServer's folder view: no onRead (a loop otherwise), the query's parameters as template properties.
      await this.folder(req, res, target, client, properties ?? (Object.keys(target.parameters).length > 0 ? { ...target.parameters } : null));
      return;
    }
    const found = await this.files.resolve([...target.segments, ...file.split('/').filter((s) => s !== '' && s !== '.' && s !== '..')]);
    if (found !== null && found.stats.isFile()) {
      await this.files.serve(req, res, found.file, found.stats, properties);
      return;
    }
    if (found !== null && found.stats.isDirectory()) {
      // As a web server does: the folder's URL ends with a slash (relative links then work).
      const location = `${target.path}/${encodeURIComponent(file)}/${target.query === '' ? '' : `?${target.query}`}`;
      sendText(res, 301, `Moved to ${location}`, { Location: location });
      return;
    }
    if (await this.live.serve(req, res, { ...target, file }, client)) {
      return;
    }
    sendText(res, 404, `File ${target.path}/${file} doesn't exist`);
  }

  private async folder(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client, properties: Record<string, unknown> | null): Promise<void> {
    const setting = client.parameters.index ?? this.options.index;
    const index = setting === 'false' || setting === false ? false : setting === 'true' || setting === true ? true : textOf(setting);
    if (index === false) {
      sendText(res, 403, `Listing of ${target.path}/ forbidden`);
      return;
    }
    if (typeof index === 'string' && !index.includes('.') && this.core.hooks.callIfDefined !== undefined) {
      // MonaServer: an index name without extension may be one of the client's methods.
      const values = await this.core.hooks.callIfDefined(client, index, [{ ...target.parameters }]);
      if (values !== null) {
        sendJson(res, 200, values.length === 1 ? values[0] : values, req.method === 'HEAD');
        return;
      }
    }
    const dir = await this.files.resolve(target.segments);
    if (dir === null || !dir.stats.isDirectory()) {
      sendText(res, 404, `Folder ${target.path}/ doesn't exist`);
      return;
    }
    const name = index === true ? 'index.html' : index;
    const page = await this.files.resolve([...target.segments, name]);
    if (page !== null && page.stats.isFile()) {
      await this.files.serve(req, res, page.file, page.stats, properties);
      return;
    }
    if (index !== true) {
      sendText(res, 404, `File ${target.path}/${name} doesn't exist`);
      return;
    }
    const html = Buffer.from(await listingPage(dir.file, `${target.path}/`), 'utf8');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', html.length);
    res.end(req.method === 'HEAD' ? undefined : html);
  }

  /**
   * POST, as MonaServer reads it: a JSON body (by its Content-Type, or one that parses as JSON)
   * is a list of values: `["method", args...]` calls `client:method(args...)`, any other values go
   * to `client:onMessage(...values)`; any other body goes to `client:onMessage(body)` as bytes. On
   * top of that, `POST /app/method` calls `client:method(...values)` when the client has it.
   */
  private async post(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client, connection: HttpConnection, body: Buffer): Promise<void> {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    const text = body.toString('utf8');
    let values: unknown[] | null = null;
    if (text.trim() !== '' && (type.includes('json') || type === '' || type.startsWith('text/plain'))) {
      try {
        const parsed: unknown = JSON.parse(text);
        values = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        values = null;
      }
    }
    // XML-RPC (text/xml, application/xml): a methodCall's name and params; answered by a methodResponse.
    let xmlRpc = false;
    if (values === null && type.includes('xml') && text.includes('methodCall')) {
      try {
        // MonaServer's reader takes a bare "&" as text (Flash sends strings unescaped): so does this one.
        const call = fromXmlRpc(text.replace(/&(?!(?:[a-zA-Z][\w.-]*|#\d+|#x[0-9a-fA-F]+);)/g, '&amp;'));
        if (call.length > 0) {
          values = call.map(forJs);
          xmlRpc = true;
        }
      } catch {
        values = null;
      }
    }
    const args = values ?? (body.length === 0 ? [] : [body]);
    const reply = (result: readonly unknown[]): void => (xmlRpc ? this.answerXmlRpc(res, connection, result) : this.answer(res, connection, result, false));
    if (target.file !== '' && extname(target.file) === '' && this.core.hooks.callIfDefined !== undefined) {
      const result = await this.core.hooks.callIfDefined(client, target.file, args);
      if (result !== null) {
        reply(result);
        return;
      }
    }
    const [name, rest] = values !== null && typeof values[0] === 'string' ? [values[0], values.slice(1)] : ['onMessage', args];
    reply(await this.core.call(client, name, rest));
  }

  /**
   * PUT: `client:onWrite(file, parameters)` decides, with onRead's answers (MonaServer's one
   * file-access hook: nil refuses with 403, a name writes that file of the same folder instead, a
   * table or nothing accepts); an app without the hook refuses every PUT (405), as MonaServer, which
   * knows no PUT, does. The body (HTTP.maxBodySize, else 413) replaces the file of the client's folder
   * (201 when it is new, 204 when it replaced one), written whole then renamed into place, and only
   * inside `www/` (the folder resolved through its symlinks as reads are); a folder, a link leading
   * out of `www/`, or an app's script (main.lua, main.js, main.mjs) cannot be written (403).
   */
  private async put(res: ServerResponse, target: RequestPath, client: Client, connection: HttpConnection, body: Buffer): Promise<void> {
    const decision = this.core.hooks.onWrite === undefined ? null : await this.core.hooks.onWrite(client, target.file, { ...target.parameters });
    this.applyCookies(res, connection);
    if (decision === null) {
      sendText(res, 405, `${target.path}/${target.file} can't be written (the application has no onWrite)`, { Allow: 'GET, HEAD, POST, OPTIONS' });
      return;
    }
    if (decision !== undefined && decision.forbidden) {
      sendText(res, 403, `No authorization to write ${target.path}/${target.file}`);
      return;
    }
    // A name returned is a name (MonaServer keeps only the name, preventing path insertion).
    const name = decision === undefined ? target.file : basename(decision.file.replace(/\\/g, '/'));
    if (name === '' || name === '.' || name === '..' || target.file === '') {
      sendText(res, 403, `No authorization to write the folder ${target.path}/`);
      return;
    }
    if (SCRIPT_FILES.has(name.toLowerCase())) {
      sendText(res, 403, `No authorization to write ${target.path}/${name}, an application's script`);
      return;
    }
    const folder = await this.files.resolve(target.segments);
    if (folder === null || !folder.stats.isDirectory()) {
      sendText(res, 409, `Folder ${target.path}/ doesn't exist`);
      return;
    }
    let path = join(folder.file, name);
    let existed = false;
    const present = await fs.lstat(path).catch(() => null);
    if (present !== null) {
      // An existing entry: written through its real path, which must be a file inside www/.
      const found = await this.files.resolve([...target.segments, name]);
      if (found === null || !found.stats.isFile()) {
        sendText(res, 403, `No authorization to write ${target.path}/${name}`);
        return;
      }
      path = found.file;
      existed = true;
    }
    const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.part`);
    try {
      await fs.writeFile(temporary, body, { flag: 'wx' });
      await fs.rename(temporary, path);
    } catch (err) {
      await fs.rm(temporary, { force: true }).catch(() => undefined);
      log.warn(`${connection.address} PUT ${target.path}/${name}: ${errorMessage(err)}`);
      sendText(res, 500, `Impossible to write ${target.path}/${name}`);
      return;
    }
    res.setHeader('Content-Location', `${target.path}/${encodeURIComponent(name)}`);
    if (existed) {
      res.statusCode = 204;
      res.end();
    } else {
      sendText(res, 201, `${target.path}/${name} written`, { Location: `${target.path}/${encodeURIComponent(name)}` });
    }
  }

  /** An XML-RPC call's answer: a methodResponse of the values, then what the script wrote during it. */
  private answerXmlRpc(res: ServerResponse, connection: HttpConnection, values: readonly unknown[]): void {
    this.applyCookies(res, connection);
    const body = toXmlRpc([...values, ...connection.messages] as ScriptData[]);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/xml; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
  }

  /** An RPC's answer: its values, then what the script wrote during it, as one JSON array. */
  private answer(res: ServerResponse, connection: HttpConnection, values: readonly unknown[], head: boolean): void {
    this.applyCookies(res, connection);
    if (connection.raw.length > 0) {
      // writer:writeRaw: the bytes are the answer (MonaServer's HTTPWriter: "200 OK", text/plain).
      sendRaw(res, Buffer.concat(connection.raw), head);
      return;
    }
    const all = [...values, ...connection.messages];
    sendJson(res, 200, all.length === 1 ? all[0] : all, head);
  }

  private async readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | null> {
    const max = this.options.maxBodySize;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      res.setHeader('Connection', 'close');
      sendText(res, 413, `Body larger than ${max} bytes`);
      req.socket.end();
      return null;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > max) {
          throw new BodyTooLarge();
        }
        chunks.push(bytes);
      }
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader('Connection', 'close');
        sendText(res, 413, `Body larger than ${max} bytes`);
        req.socket.end();
      } else {
        res.destroy();
      }
      return null;
    }
    return Buffer.concat(chunks);
  }
}
