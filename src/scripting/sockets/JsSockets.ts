import { errorMessage } from '../../errors.js';
import type { App } from '../App.js';
import { LOOPBACK, type SocketAddress, WILDCARD, readAddress } from './SocketAddress.js';
import { log, type ScriptSocket, type ScriptSockets, socketOwner } from './ScriptSockets.js';
import { TcpClientSocket } from './TcpClientSocket.js';
import { TcpServerSocket } from './TcpServerSocket.js';
import { UdpSocket } from './UdpSocket.js';

/** An address as JS apps pass it: "host:port", a host and a port, a port alone, or an object with an "ip:port" `address`. */
/** An address: "host:port", a port, a mesh server or mona.createSocketAddress object, a mona.createIPAddress object (and a port). */
export type JsAddress = string | number | { readonly address: string } | { readonly value: string };

/** A JS error with where the script threw it (its first stack frame), for the log. */
const located = (err: unknown): Error => {
  const frame = err instanceof Error ? /\n\s+at (?:.*\()?(.+?:\d+:\d+)\)?/.exec(err.stack ?? '')?.[1] : undefined;
  return new Error(frame === undefined ? errorMessage(err) : `${errorMessage(err)} (${frame})`);
};

/** Calls a script's event: a throw comes out with its location; a returned promise's failure is logged. */
const event = <R>(socket: ScriptSocket, what: string, call: () => R): R => {
  let result: R;
  try {
    result = socket.registry.dispatch(call);
  } catch (err) {
    throw located(err);
  }
  if (result instanceof Promise) {
    const owner = socket.owner;
    result.catch((err: unknown) => log.error(`${owner === null ? '' : `app ${owner.label}: `}${socket.describe()} ${what}: ${located(err).message}`));
  }
  return result;
};

/** Reads an address for a method that answers true, or logs why not and answers false (as the Lua methods do). */
const withAddress = (owner: App | null, args: readonly unknown[], portOnlyHost: string, use: (address: SocketAddress) => void): boolean => {
  try {
    use(readAddress(args, portOnlyHost));
    return true;
  } catch (err) {
    log.error(`${owner === null ? '' : `app ${owner.label}: `}${errorMessage(err)}`);
    return false;
  }
};

const bytes = (data: string | Uint8Array): Buffer => (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/** A TCP connection (`this.mona.createTCPClient()`, or given to a server's onConnection). */
export class JsTcpClient {
  /** Bytes received and not consumed yet: return how many were consumed (nothing: all); the rest comes again with the next bytes. */
  onData: ((this: JsTcpClient, data: Buffer) => number | void) | null = null;
  onDisconnection: ((this: JsTcpClient, peerAddress: string, error?: string) => void) | null = null;

  constructor(readonly core: TcpClientSocket) {
    core.events = {
      data: (data) => {
        const fn = this.onData;
        if (typeof fn !== 'function') {
          return null;
        }
        const consumed = event(core, 'onData', () => fn.call(this, data));
        return typeof consumed === 'number' && Number.isFinite(consumed) ? Math.floor(consumed) : null;
      },
      disconnection: (peer, error) => {
        const fn = this.onDisconnection;
        if (typeof fn === 'function') {
          event(core, 'onDisconnection', () => (error === null ? fn.call(this, peer) : fn.call(this, peer, error)));
        }
      },
    };
  }

  get connected(): boolean { return this.core.field('connected') === true; }
  get address(): string | null { return (this.core.field('address') as string | undefined) ?? null; }
  get peerAddress(): string | null { return (this.core.field('peerAddress') as string | undefined) ?? null; }
  get idleTime(): number { return this.core.field('idleTime') as number; }

  /** `connect("host:port")`, `connect(host, port)`, `connect(port)` (loopback): false (and logged) for a bad address. */
  connect(address: JsAddress, port?: number | string): boolean {
    return withAddress(this.core.owner, [address, port], LOOPBACK, (a) => this.core.connect(a));
  }

  /** Nothing, or why nothing was sent. */
  send(data: string | Uint8Array): string | undefined {
    return this.core.send(bytes(data)) ?? undefined;
  }

  disconnect(): void {
    this.core.disconnect();
  }
}

/** A TCP server (`this.mona.createTCPServer()`). */
export class JsTcpServer {
  onConnection: ((this: JsTcpServer, client: JsTcpClient) => void) | null = null;

  constructor(readonly core: TcpServerSocket) {
    core.events = {
      connection: (client) => {
        const fn = this.onConnection;
        if (typeof fn !== 'function') {
          return false;
        }
        const wrapper = new JsTcpClient(client);
        event(core, 'onConnection', () => fn.call(this, wrapper));
        return true;
      },
    };
  }

  get running(): boolean { return this.core.field('running') === true; }
  get address(): string | null { return this.core.listening(); }

  /** `start(port)` (every interface), `start("host:port")`, `start(host, port)`: false (and logged) for a bad address. */
  start(address: JsAddress, port?: number | string): boolean {
    return withAddress(this.core.owner, [address, port], WILDCARD, (a) => this.core.start(a));
  }

  stop(): void {
    this.core.stop();
  }
}

/** A UDP socket (`this.mona.createUDPSocket(allowBroadcast)`). */
export class JsUdpSocket {
  onPacket: ((this: JsUdpSocket, data: Buffer, address: string) => void) | null = null;

  constructor(readonly core: UdpSocket) {
    core.events = {
      packet: (data, address) => {
        const fn = this.onPacket;
        if (typeof fn === 'function') {
          event(core, 'onPacket', () => fn.call(this, data, address));
        }
      },
    };
  }

  get address(): string | null { return (this.core.field('address') as string | undefined) ?? null; }
  get peerAddress(): string | null { return (this.core.field('peerAddress') as string | undefined) ?? null; }

  bind(address: JsAddress, port?: number | string): boolean {
    return withAddress(this.core.owner, [address, port], WILDCARD, (a) => this.core.bind(a));
  }

  /** Nothing, or the error. */
  connect(address: JsAddress, port?: number | string): string | undefined {
    try {
      this.core.connect(readAddress([address, port], LOOPBACK));
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  disconnect(): void {
    this.core.disconnect();
  }

  /** `send(data)` when connected, else `send(data, address[, port])`: false (and logged) when it cannot. */
  send(data: string | Uint8Array, address?: JsAddress, port?: number | string): boolean {
    if (address === undefined) {
      try {
        this.core.send(bytes(data), null);
        return true;
      } catch (err) {
        log.error(`${this.core.owner === null ? '' : `app ${this.core.owner.label}: `}${errorMessage(err)}`);
        return false;
      }
    }
    return withAddress(this.core.owner, [address, port], LOOPBACK, (a) => this.core.send(bytes(data), a));
  }

  close(): void {
    this.core.close();
  }
}

/** The socket factories of a JS app's `mona` (the sockets belong to `app`: closed when it stops). */
export const jsSocketFunctions = (sockets: ScriptSockets, app: () => App | null) => ({
  createTCPClient: (): JsTcpClient => new JsTcpClient(new TcpClientSocket(sockets, socketOwner(app()))),
  createTCPServer: (): JsTcpServer => new JsTcpServer(new TcpServerSocket(sockets, socketOwner(app()))),
  createUDPSocket: (allowBroadcast = false): JsUdpSocket => new JsUdpSocket(new UdpSocket(sockets, socketOwner(app()), allowBroadcast)),
});
