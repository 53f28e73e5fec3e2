import { type Socket, connect } from 'node:net';
import type { App } from '../App.js';
import { type SocketAddress, endOf, formatAddress } from './SocketAddress.js';
import { log, ScriptSocket, type ScriptSockets } from './ScriptSockets.js';

/** What a TCP connection tells its script (MonaServer's LUATCPClient events). */
export interface TcpClientEvents {
  /**
   * `onData(data)`: every byte received and not consumed yet. Returns how many bytes the script
   * consumed (null: all of them); the rest is given again, with what comes next, at the next call.
   * A throw closes the connection.
   */
  data(data: Buffer): number | null;
  /** `onDisconnection(peerAddress[, error])`. */
  disconnection(peerAddress: string, error: string | null): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * A script's TCP connection: one it dials (`mona:createTCPClient()` then `connect`), or one its TCP
 * server accepted. Received bytes go to onData until it consumes them; what it leaves is kept,
 * and once more than application.socketBuffer bytes are kept (or queued to send to a peer that
 * does not read), the connection is closed with the error logged and given to onDisconnection.
 */
export class TcpClientSocket extends ScriptSocket {
  readonly kind = 'tcpClient';
  events: TcpClientEvents | null = null;
  private socket: Socket | null = null;
  private peer: string | null = null;
  /** The last peer, for logs after the connection is gone. */
  private label: string;
  private kept: Buffer = EMPTY;
  private error: string | null = null;
  private lastActivity = Date.now();
  /** A connection a script server accepted: forgotten once it ends. */
  private readonly accepted: boolean;

  constructor(registry: ScriptSockets, owner: App | null, accepted: Socket | null = null) {
    super(registry, owner);
    this.accepted = accepted !== null;
    this.label = this.accepted ? 'TCP connection' : 'TCP client';
    if (accepted !== null) {
      accepted.setNoDelay(true);
      this.attach(accepted, endOf(accepted.remoteAddress, accepted.remotePort));
    }
  }

  describe(): string {
    return this.label;
  }

  field(key: string): unknown {
    switch (key) {
      case 'connected': return this.socket !== null;
      case 'address': return endOf(this.socket?.localAddress, this.socket?.localPort) ?? undefined;
      case 'peerAddress': return this.peer ?? undefined;
      case 'idleTime': return Date.now() - this.lastActivity;
      default: return undefined;
    }
  }

  /** `connect(address)`: dials (a connection in place is dropped first, without an event, as MonaServer does). */
  connect(address: SocketAddress): void {
    this.drop();
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    this.attach(socket, formatAddress(address.host, address.port));
  }

  /** `send(data)`: null, or why nothing was sent (not connected, the peer does not read). */
  send(data: Buffer): string | null {
    const socket = this.socket;
    if (socket === null || socket.destroyed || !socket.writable) {
      return 'not connected';
    }
    if (data.length === 0) {
      return null;
    }
    socket.write(data);
    this.lastActivity = Date.now();
    if (socket.writableLength > this.registry.bufferMax) {
      return this.overflow(`more than ${this.registry.bufferMax} bytes queued to send to a peer that does not read (application.socketBuffer)`);
    }
    return null;
  }

  /** `disconnect()`: sends what is queued, then shuts the sending side; onDisconnection follows when the peer closes. */
  disconnect(): void {
    const socket = this.socket;
    if (socket !== null && !socket.destroyed && socket.writable) {
      socket.end();
    }
  }

  protected shutdown(): void {
    this.events = null;
    this.drop();
  }

  private attach(socket: Socket, peer: string | null): void {
    this.socket = socket;
    this.peer = peer;
    this.label = `${this.accepted ? 'TCP connection from' : 'TCP client of'} ${peer ?? '?'}`;
    this.kept = EMPTY;
    this.error = null;
    this.lastActivity = Date.now();
    socket.on('data', (chunk: Buffer) => this.received(socket, chunk));
    socket.on('error', (err) => {
      if (this.socket === socket) {
        this.error ??= err.message;
      }
    });
    socket.on('close', () => this.closed(socket));
  }

  /** Forgets the connection in place without any event. */
  private drop(): void {
    const socket = this.socket;
    if (socket === null) {
      return;
    }
    this.socket = null;
    this.peer = null;
    this.kept = EMPTY;
    socket.removeAllListeners();
    socket.on('error', () => undefined);
    socket.destroy();
  }

  private received(socket: Socket, chunk: Buffer): void {
    if (this.socket !== socket || socket.destroyed) {
      return;
    }
    this.lastActivity = Date.now();
    let data = this.kept.length === 0 ? chunk : Buffer.concat([this.kept, chunk]);
    this.kept = EMPTY;
    // As MonaServer's TCPClient::receive: onData again on the rest while it consumes something.
    while (data.length > 0) {
      let consumed: number | null;
      try {
        consumed = this.events === null ? null : this.events.data(data);
      } catch (err) {
        this.abort(socket, this.failed('onData', err, 'connection closed'));
        return;
      }
      if (this.socket !== socket || socket.destroyed) {
        return;
      }
      if (consumed === null || consumed >= data.length) {
        data = EMPTY;
      } else if (consumed <= 0) {
        break;
      } else {
        data = data.subarray(consumed);
      }
    }
    if (data.length > this.registry.bufferMax) {
      this.overflow(`more than ${this.registry.bufferMax} bytes received and not consumed by onData (application.socketBuffer)`);
      return;
    }
    this.kept = data;
  }

  private overflow(message: string): string {
    log.error(`${this.owner === null ? '' : `app ${this.owner.label}: `}${this.label}: ${message}, connection closed`);
    if (this.socket !== null) {
      this.abort(this.socket, message);
    }
    return message;
  }

  /** Closes at once; onDisconnection gets `error`. */
  private abort(socket: Socket, error: string): void {
    this.error = error;
    this.kept = EMPTY;
    socket.destroy();
  }

  private closed(socket: Socket): void {
    if (this.socket !== socket) {
      return;
    }
    const peer = this.peer ?? '';
    const error = this.error;
    this.socket = null;
    this.peer = null;
    this.kept = EMPTY;
    this.error = null;
    try {
      this.events?.disconnection(peer, error);
    } catch (err) {
      this.failed('onDisconnection', err, '');
    }
    // A connection a server accepted is over; a client the script made may connect again.
    if (this.accepted && this.socket === null) {
      this.forget();
    }
  }
}
