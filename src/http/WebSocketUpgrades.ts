import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import { Client, formatAddress } from '../core/Client.js';
import type { Core } from '../core/Core.js';
import { errorMessage } from '../errors.js';
import { Logger } from '../util/Logger.js';
import type { WireContext } from '../protocols/WireContext.js';
import { FlvViewer } from './live/FlvViewer.js';
import { WsFlvTransport } from './live/WsFlvTransport.js';
import { parseRequestPath, requestProperties, type RequestPath } from './requestPath.js';
import { WS_POLICY, WebSocketClient } from './WebSocketClient.js';

const log = new Logger('websocket');

const refuse = (socket: Socket, status: number, text: string): void => {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
};

/**
 * Upgrades on the HTTP port: `ws://host/<path>/<name>.flv` plays publication `name` as
 * WebSocket-FLV; any other path is a MonaServer WebSocket client of the app at that path.
 * Refusals by `onConnection`/`onSubscribe` close the socket with 1008 and the reason.
 */
export class WebSocketUpgrades {
  constructor(
    private readonly core: Core,
    private readonly wss: WebSocketServer,
    private readonly timeoutMs: number,
    /** The thread's packet-path state: WebSocket-FLV viewers encode with its wire slots. */
    private readonly wire: WireContext,
  ) {}

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined);
    const target = parseRequestPath(req.url ?? '/');
    if (target === null) {
      refuse(socket, 400, 'Bad Request');
      return;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      refuse(socket, 400, 'Bad Request');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => log.debug(`${socket.remoteAddress ?? '?'}: ${err.message}`));
      const address = { host: socket.remoteAddress ?? '0.0.0.0', port: socket.remotePort ?? 0 };
      const properties = requestProperties(req);
      const run = target.file.endsWith('.flv') && target.file.length > 4 ? this.playFlv(ws, address, target, properties) : this.client(ws, address, target, properties);
      run.catch((err: unknown) => {
        log.error(`${formatAddress(address.host, address.port)}: ${errorMessage(err)}`);
        ws.terminate();
      });
    });
  }

  private async client(ws: WebSocket, address: { host: string; port: number }, target: RequestPath, properties: Record<string, unknown>): Promise<void> {
    const session = new WebSocketClient(this.core, ws, address, target, properties, this.timeoutMs);
    await session.open(target.parameters);
  }

  private async playFlv(ws: WebSocket, address: { host: string; port: number }, target: RequestPath, properties: Record<string, unknown>): Promise<void> {
    const transport = new WsFlvTransport(ws);
    const client = new Client('WebSocket', formatAddress(address.host, address.port), {
      writeInvocation: () => undefined,
      writeMessage: () => undefined,
      close: (reason) => transport.close(reason ?? 'closed by the application'),
    });
    client.path = target.path;
    client.query = target.query;
    client.properties = properties;
    const viewer = new FlvViewer(this.core, client, transport, this.wire.wireSlots);
    let gone = false;
    ws.once('close', () => {
      gone = true;
      viewer.close();
      this.core.disconnect(client);
    });
    // A viewer sends nothing; what it sends anyway is read and dropped (bounded by maxPayload).
    ws.on('message', () => undefined);
    try {
      await this.core.connect(client, [{ ...target.parameters }]);
      if (gone) {
        this.core.disconnect(client);
        return;
      }
      const name = target.file.slice(0, -4);
      await viewer.start(target.query === '' ? name : `${name}?${target.query}`, () => undefined);
    } catch (err) {
      log.debug(`${client.address}: play ${target.file} refused: ${errorMessage(err)}`);
      if (!gone) {
        ws.close(WS_POLICY, errorMessage(err).slice(0, 120));
      }
      this.core.disconnect(client);
    }
  }
}
