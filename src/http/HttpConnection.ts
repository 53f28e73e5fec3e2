import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Client, type ClientWriter, formatAddress } from '../core/Client.js';
import type { Core } from '../core/Core.js';
import { type RequestPath, formatSetCookie, requestProperties } from './requestPath.js';

/**
 * MonaServer's HTTP client: one per TCP connection, kept while the requests of that connection
 * name the same folder and query (mona-api.md: `onConnection` runs again when they change, after
 * `onDisconnection` of the previous one). Its writer collects what a script writes during a
 * request (`writeMessage`, `writeInvocation`) for that request's answer, and its cookies
 * (`client.properties(key, value, options)`) for the response headers.
 */
export class HttpConnection {
  private client: Client | null = null;
  private key = '';
  private pending: Promise<unknown> = Promise.resolve();
  /** Set-Cookie values for the answer being built. */
  cookies: string[] = [];
  /** Values written by the script during the current request, in order. */
  messages: unknown[] = [];
  /** Bytes written by `writer:writeRaw` during the current request: the answer's body when any. */
  raw: Buffer[] = [];
  /** The script asked to close the connection (`writer:close()`). */
  closeAfter = false;
  closed = false;

  constructor(
    private readonly core: Core,
    readonly socket: Socket,
  ) {
    socket.once('close', () => {
      this.closed = true;
      this.release();
    });
  }

  get address(): string {
    return formatAddress(this.socket.remoteAddress ?? '0.0.0.0', this.socket.remotePort ?? 0);
  }

  /**
   * Runs `task` after the previous task of this connection finished (HttpApps runs each request,
   * from its body to its answer's end, as one: pipelined requests reach the hooks in order, one
   * at a time, and each answer gets its own script's messages and cookies).
   */
  serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.pending.then(task, task);
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** The connected client for this request's folder and query (made, and `onConnection` run, when they changed). */
  async clientFor(target: RequestPath, req: IncomingMessage): Promise<Client> {
    const key = `${target.path}?${target.query}`;
    if (this.client !== null && this.client.state === 'connected' && key === this.key) {
      this.refreshProperties(this.client, req, target);
      return this.client;
    }
    this.release();
    const client = new Client('HTTP', this.address, this.writer());
    client.path = target.path;
    client.query = target.query;
    this.refreshProperties(client, req, target);
    client.setCookie = (name, value, options) => {
      this.cookies.push(formatSetCookie(name, value, options));
    };
    this.client = client;
    this.key = key;
    try {
      await this.core.connect(client, [{ ...target.parameters }]);
    } catch (err) {
      this.client = null;
      this.core.disconnect(client);
      throw err;
    }
    if (this.closed) {
      this.release();
    }
    return client;
  }

  /** Headers and cookies, as a script reads them (`client.properties`, and `client.<name>` through them). */
  private refreshProperties(client: Client, req: IncomingMessage, _target: RequestPath): void {
    client.properties = requestProperties(req);
    client.lastReceptionTime = Date.now();
  }

  /** Starts a new request's answer. */
  beginRequest(): void {
    this.cookies = [];
    this.messages = [];
    this.raw = [];
  }

  private writer(): ClientWriter {
    return {
      writeInvocation: (name, ...args) => {
        this.messages.push([name, ...args]);
      },
      writeMessage: (...args) => {
        this.messages.push(...args);
      },
      close: () => {
        this.closeAfter = true;
      },
      // MonaServer's HTTPWriter::writeRaw: a "200 OK" text/plain answer of these bytes.
      writeRaw: (data) => {
        this.raw.push(data);
      },
    };
  }

  /** onDisconnection for the current client. */
  release(): void {
    const client = this.client;
    this.client = null;
    if (client !== null) {
      this.core.disconnect(client);
    }
  }
}
