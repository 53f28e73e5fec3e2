import { type Server, type Socket, createServer } from 'node:net';
import type { App } from '../App.js';
import { type SocketAddress, endOf, formatAddress } from './SocketAddress.js';
import { ScriptSocket, type ScriptSockets } from './ScriptSockets.js';
import { TcpClientSocket } from './TcpClientSocket.js';

/** What a TCP server tells its script (MonaServer's LUATCPServer). */
export interface TcpServerEvents {
  /**
   * `onConnection(client)` for an accepted connection (a TcpClientSocket the binding sets up).
   * Returns false when the script defines no onConnection (the connection is closed then); a
   * throw closes it too.
   */
  connection(client: TcpClientSocket): boolean;
}

/**
 * A script's TCP server (`mona:createTCPServer()`): `start(address)` listens (a port alone listens
 * on every interface, as MonaServer does), each accepted connection goes to onConnection as a TCP
 * client object, `stop()` closes the listening socket (accepted connections stay).
 */
export class TcpServerSocket extends ScriptSocket {
  readonly kind = 'tcpServer';
  events: TcpServerEvents | null = null;
  private server: Server | null = null;
  /** What start() asked for (also how the server is named until it listens). */
  private requested: string | null = null;

  constructor(registry: ScriptSockets, owner: App | null) {
    super(registry, owner);
  }

  describe(): string {
    return `TCP server ${this.requested ?? '(not started)'}`;
  }

  field(key: string): unknown {
    switch (key) {
      case 'running': return this.server !== null;
      case 'address': return this.listening() ?? undefined;
      default: return undefined;
    }
  }

  /** The address it listens on ("ip:port", with the port the system chose for port 0), null before. */
  listening(): string | null {
    const bound = this.server?.address();
    return typeof bound === 'object' && bound !== null ? endOf(bound.address, bound.port) : null;
  }

  /**
   * `start(address)`: listens there (already running on the same address: nothing to do; on
   * another: stopped first). The bind itself completes after this returns: a failure (address in
   * use) is logged and `running` turns false.
   */
  start(address: SocketAddress): void {
    const requested = formatAddress(address.host, address.port);
    if (this.server !== null) {
      if (requested === this.requested) {
        return;
      }
      this.stop();
    }
    this.requested = requested;
    const server = createServer({ noDelay: true });
    this.server = server;
    server.on('connection', (socket) => this.accepted(server, socket));
    server.on('error', (err) => {
      if (this.server === server) {
        this.warn(err.message);
        this.server = null;
        server.close();
      }
    });
    server.listen({ host: address.host, port: address.port });
  }

  /** `stop()`: no more connections; the ones accepted go on. */
  stop(): void {
    const server = this.server;
    this.server = null;
    server?.close();
  }

  protected shutdown(): void {
    this.events = null;
    this.stop();
  }

  private accepted(server: Server, socket: Socket): void {
    if (this.server !== server || this.events === null) {
      socket.destroy();
      return;
    }
    const client = new TcpClientSocket(this.registry, this.owner, socket);
    let handled: boolean;
    try {
      handled = this.events.connection(client);
    } catch (err) {
      this.failed('onConnection', err, 'connection closed');
      handled = false;
    }
    if (!handled) {
      client.dispose();
    }
  }
}
