import type { WebSocket } from 'ws';
import { Client, formatAddress } from '../core/Client.js';
import type { Core } from '../core/Core.js';
import { errorMessage } from '../errors.js';
import { Logger } from '../util/Logger.js';
import type { RequestPath } from './requestPath.js';
import { jsonReplacer } from './responses.js';

const log = new Logger('websocket');

/** Close codes (RFC 6455 §7.4.1). */
export const WS_POLICY = 1008;
export const WS_GOING_AWAY = 1001;

/** A JSON text message for the browser; a single byte string goes as a binary message. */
const encodeMessage = (values: readonly unknown[]): string | Buffer =>
  values.length === 1 && Buffer.isBuffer(values[0]) ? values[0] : JSON.stringify(values, jsonReplacer);

/**
 * MonaServer's WebSocket client (mona-api.md §1.5): a text message `["method", args...]` calls
 * `client:method(args...)` and the values it returns come back as one JSON array; any other text
 * (JSON or not) and every binary message go to `client:onMessage(value)` (bytes kept as bytes);
 * `writer:writeInvocation(name, ...)` sends `["name", ...]`, `writer:writeMessage(...)` the values.
 * The server pings every half `WebSocket.timeout`; a peer silent for a whole one is closed.
 */
export class WebSocketClient {
  readonly client: Client;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingSent = 0;
  private lastHeard = Date.now();
  /** Messages are handled one at a time, in order (a script's answer never overtakes an earlier one). */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: Core,
    private readonly ws: WebSocket,
    address: { host: string; port: number },
    target: RequestPath,
    properties: Record<string, unknown>,
    private readonly timeoutMs: number,
  ) {
    this.client = new Client('WebSocket', formatAddress(address.host, address.port), {
      writeInvocation: (name, ...args) => this.send([name, ...args]),
      writeMessage: (...args) => this.send(args),
      close: (reason) => this.ws.close(WS_GOING_AWAY, (reason ?? '').slice(0, 120)),
      // MonaServer's WSWriter::writeRaw: one binary frame of these bytes.
      writeRaw: (data) => this.sendRaw(data),
    });
    this.client.path = target.file === '' ? target.path : `${target.path}/${target.file}`;
    this.client.query = target.query;
    this.client.properties = properties;
  }

  /** Runs onConnection; on refusal the socket closes with 1008 and the reason. */
  async open(parameters: Record<string, string>): Promise<boolean> {
    // Listening at once: what the page sends right after `open` waits for onConnection, in order.
    let connected: (ok: boolean) => void = () => undefined;
    const ready = new Promise<boolean>((resolve) => (connected = resolve));
    this.queue = ready.then(() => undefined);
    this.ws.on('message', (data, isBinary) => {
      this.lastHeard = Date.now();
      this.client.lastReceptionTime = this.lastHeard;
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.client.traffic.received += bytes.length;
      this.queue = this.queue.then(() => this.onMessage(bytes, isBinary));
    });
    this.ws.on('pong', () => {
      this.lastHeard = Date.now();
      if (this.pingSent > 0) {
        this.client.ping = this.lastHeard - this.pingSent;
        this.pingSent = 0;
      }
    });
    this.ws.on('close', () => this.close());
    try {
      await this.core.connect(this.client, [{ ...parameters }]);
    } catch (err) {
      connected(false);
      this.core.disconnect(this.client);
      if (this.ws.readyState === this.ws.OPEN) {
        this.ws.close(WS_POLICY, errorMessage(err).slice(0, 120));
      }
      return false;
    }
    connected(true);
    if (this.ws.readyState !== this.ws.OPEN) {
      this.close();
      return false;
    }
    if (this.timeoutMs > 0) {
      this.pingTimer = setInterval(() => this.keepAlive(), Math.max(50, Math.floor(this.timeoutMs / 2)));
      this.pingTimer.unref();
    }
    return true;
  }

  private keepAlive(): void {
    if (Date.now() - this.lastHeard >= this.timeoutMs) {
      log.info(`${this.client.address}: no message nor pong for ${this.timeoutMs} ms (MS_ERR_SESSION_TIMEOUT): closed`);
      this.ws.terminate();
      return;
    }
    this.pingSent = Date.now();
    this.ws.ping();
  }

  private async onMessage(bytes: Buffer, isBinary: boolean): Promise<void> {
    if (this.client.state !== 'connected') {
      return;
    }
    let name = 'onMessage';
    let args: unknown[] = [bytes];
    if (!isBinary) {
      const text = bytes.toString('utf8');
      try {
        const value: unknown = JSON.parse(text);
        // As MonaServer's JSON reader: the values of an array, a first string naming the method.
        const values: unknown[] = Array.isArray(value) ? value : [value];
        if (typeof values[0] === 'string') {
          [name, ...args] = values as [string, ...unknown[]];
        } else {
          args = values;
        }
      } catch {
        args = [text];
      }
      if (name === '__close') {
        this.ws.close(1000);
        return;
      }
    }
    try {
      const values = await this.core.call(this.client, name, args);
      if (values.length > 0) {
        this.send(values);
      }
    } catch (err) {
      log.debug(`${this.client.address} ${name}: ${errorMessage(err)}`);
      // As a Flash client's `_error`: the page learns that its call failed and why.
      this.send(['_error', { level: 'error', code: 'NetConnection.Call.Failed', description: errorMessage(err) }]);
    }
  }

  sendRaw(data: Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) {
      this.client.traffic.sent += data.length;
      this.ws.send(data, { binary: true });
    }
  }

  send(values: readonly unknown[]): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      return;
    }
    const message = encodeMessage(values);
    this.client.traffic.sent += message.length;
    this.ws.send(message, { binary: Buffer.isBuffer(message) });
  }

  close(): void {
    if (this.pingTimer !== null) {
      clearInterval(this.pingTimer);
      this.pingTimer = null;
    }
    this.core.disconnect(this.client);
  }
}
