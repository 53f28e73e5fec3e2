import { type IncomingMessage, type Server as HttpServer, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import type { Config } from '../config/Config.js';
import type { Core } from '../core/Core.js';
import { errorMessage } from '../errors.js';
import type { Protocol } from '../protocols/Protocol.js';
import { AddressLimits, ThrottledLog } from '../util/AddressLimits.js';
import { Logger } from '../util/Logger.js';
import { ApiRoutes } from './api/ApiRoutes.js';
import { Metrics } from './api/Metrics.js';
import { StatsApi, type StatsSource } from './api/StatsApi.js';
import { HttpApps } from './HttpApps.js';
import { HttpConnection } from './HttpConnection.js';
import { HlsPlayback } from './live/HlsPlayback.js';
import { LiveStreams } from './live/LiveStreams.js';
import { parseRequestPath } from './requestPath.js';
import { sendPreflight, sendText, setCors } from './responses.js';
import { WebSocketUpgrades } from './WebSocketUpgrades.js';
import type { WireContext } from '../protocols/WireContext.js';

const log = new Logger('http');

/** Parser failures as statuses (llhttp's codes as Node reports them). */
const clientErrorStatus = (code: string | undefined): [number, string] => {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'Request Header Fields Too Large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'Request Timeout'];
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return [400, 'Bad Request (conflicting or invalid message length)'];
    default:
      return [400, 'Bad Request'];
  }
};

/**
 * The HTTP port (`HTTP.port`), as in MonaServer one port for the apps' pages and RPC, WebSocket
 * (an upgrade), live streams (HTTP-FLV, WebSocket-FLV, HLS) and the stats API. Node's `http` does
 * the parsing with its limits: header size (431), header and request deadlines (408, which ends
 * slowloris clients), conflicting lengths (400); `ws` does the WebSocket framing.
 */
export class HttpProtocol implements Protocol {
  readonly name = 'HTTP';
  private server: HttpServer | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new WeakMap<Socket, HttpConnection>();
  private readonly perAddress: AddressLimits;
  private readonly refusals = new ThrottledLog((m) => log.warn(m));
  private readonly clientErrors = new ThrottledLog((m) => log.info(m));
  readonly apps: HttpApps;
  readonly live: LiveStreams;
  readonly hls: HlsPlayback;
  readonly stats: StatsApi;
  readonly metrics: Metrics;
  private readonly api: ApiRoutes;
  private readonly webSockets: WebSocketUpgrades;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly core: Core,
    private readonly config: Config,
    source: StatsSource,
    /** The main thread's packet-path state (`Server.wire`): FLV viewers share its RTMP write batch and wire slots. */
    wire: WireContext,
  ) {
    const http = config.http;
    this.perAddress = new AddressLimits(http.maxConnectionsPerAddress);
    this.live = new LiveStreams(core, wire);
    this.hls = new HlsPlayback(core, http.hls);
    this.live.formats.push(this.hls);
    this.apps = new HttpApps(core, join(config.application.dir, 'www'), { index: http.index, maxBodySize: http.maxBodySize }, this.live);
    this.stats = new StatsApi(source);
    this.metrics = new Metrics(source);
    this.api = new ApiRoutes(this.stats, this.metrics, http.apiToken);
    // No compression: media does not shrink and per-message deflate costs a zlib context per socket.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: http.webSocketMaxPayload, perMessageDeflate: false, clientTracking: true });
    this.webSockets = new WebSocketUpgrades(core, this.wss, http.webSocketTimeoutMs, wire);
  }

  get sessionCount(): number {
    return this.sockets.size;
  }

  async start(): Promise<string[]> {
    const http = this.config.http;
    const timeout = http.timeoutMs > 0 ? http.timeoutMs : 7000;
    const server = createServer({
      maxHeaderSize: http.maxHeaderSize,
      headersTimeout: timeout,
      requestTimeout: Math.max(timeout * 4, 30_000),
      keepAliveTimeout: timeout,
      // How often the deadlines above are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeout / 2))),
      noDelay: true,
    });
    server.on('connection', (socket) => this.onConnection(socket));
    server.on('request', (req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.webSockets.upgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    this.server = server;
    const host = http.host !== '' ? http.host : this.config.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(http.port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error(`listener: ${errorMessage(err)}`));
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : http.port;
    this.boundPort = port;
    return [`${host.includes(':') ? `[${host}]` : host}:${port}/tcp`];
  }

  /** The port listened on (HTTP.port=0 picks one). */
  boundPort = 0;

  private onConnection(socket: Socket): void {
    const ip = socket.remoteAddress ?? '';
    if (!this.perAddress.acquire(ip)) {
      this.refusals.report(`${ip}: refused, HTTP.maxConnectionsPerAddress (${this.perAddress.max}) reached`);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.perAddress.release(ip);
    });
    socket.on('error', () => undefined);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, text] = clientErrorStatus(err.code);
    this.clientErrors.report(`${socket.remoteAddress ?? '?'}: ${status} ${text} (${err.code ?? err.message})`);
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.once('finish', () => this.metrics.httpRequests.inc({ status: `${Math.floor(res.statusCode / 100)}xx` }));
    this.route(req, res).catch((err: unknown) => {
      log.error(`${req.method ?? ''} ${req.url ?? ''}: ${errorMessage(err)}`);
      if (!res.headersSent) {
        sendText(res, 500, 'Internal Server Error');
      } else {
        res.destroy();
      }
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (req.method === 'OPTIONS') {
      sendPreflight(req, res);
      return;
    }
    setCors(req, res);
    const q = url.indexOf('?');
    if (await this.api.handle(req, res, q < 0 ? url : url.slice(0, q))) {
      return;
    }
    const target = parseRequestPath(url);
    if (target === null) {
      sendText(res, 400, 'Bad Request (invalid path)');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST' && req.method !== 'PUT') {
      sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD, POST, PUT, OPTIONS' });
      return;
    }
    const socket = req.socket;
    let connection = this.connections.get(socket);
    if (connection === undefined) {
      connection = new HttpConnection(this.core, socket);
      this.connections.set(socket, connection);
    }
    await this.apps.handle(req, res, target, connection);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.hls.close();
    for (const ws of this.wss.clients) {
      ws.terminate();
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.wss.close();
    if (server !== null) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
