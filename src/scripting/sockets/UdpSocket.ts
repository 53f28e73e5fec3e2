import { type Socket, createSocket } from 'node:dgram';
import type { App } from '../App.js';
import { type SocketAddress, endOf, formatAddress, udpType } from './SocketAddress.js';
import { ScriptSocket, type ScriptSockets } from './ScriptSockets.js';

/** What a UDP socket tells its script (MonaServer's LUAUDPSocket). */
export interface UdpSocketEvents {
  /** `onPacket(data, address)`: one datagram and who sent it. A throw is logged; the socket goes on. */
  packet(data: Buffer, address: string): void;
}

/**
 * A script's UDP socket (`mona:createUDPSocket([allowBroadcast])`): `bind`, `connect` (then `send`
 * needs no address), `disconnect`, `send(data[, address])`, `close` (the object may bind or connect
 * again afterwards). The system socket is made by the first of them, IPv4 or IPv6 after its host.
 */
export class UdpSocket extends ScriptSocket {
  readonly kind = 'udpSocket';
  events: UdpSocketEvents | null = null;
  private socket: Socket | null = null;
  private type: 'udp4' | 'udp6' = 'udp4';
  private peer: string | null = null;
  private connection: 'none' | 'connecting' | 'connected' = 'none';
  /** Datagrams sent while connecting (Node needs the connection done to send without an address). */
  private queued: Buffer[] = [];
  private queuedBytes = 0;

  constructor(
    registry: ScriptSockets,
    owner: App | null,
    readonly allowBroadcast: boolean,
  ) {
    super(registry, owner);
  }

  describe(): string {
    return `UDP socket ${this.local() ?? this.peer ?? '(not bound)'}`;
  }

  field(key: string): unknown {
    switch (key) {
      case 'address': return this.local() ?? undefined;
      case 'peerAddress': return this.peer ?? undefined;
      default: return undefined;
    }
  }

  private local(): string | null {
    try {
      const bound = this.socket?.address();
      return bound === undefined ? null : endOf(bound.address, bound.port);
    } catch {
      return null; // not bound yet
    }
  }

  /** `bind(address)`: throws when this socket is bound already (explicitly, or by a send or connect). */
  bind(address: SocketAddress): void {
    this.open(address.host).bind({ port: address.port, address: address.host });
  }

  /** `connect(address)`: `send(data)` then goes there (connected already: a new system socket, as MonaServer makes). */
  connect(address: SocketAddress): void {
    if (this.connection !== 'none') {
      this.close();
    }
    const socket = this.open(address.host);
    socket.connect(address.port, address.host, (err?: Error) => {
      if (this.socket !== socket || this.connection !== 'connecting') {
        return;
      }
      if (err !== undefined) {
        this.warn(`connect: ${err.message}`);
        this.connection = 'none';
        this.peer = null;
        this.queued = [];
        this.queuedBytes = 0;
        return;
      }
      this.connection = 'connected';
      const queued = this.queued;
      this.queued = [];
      this.queuedBytes = 0;
      for (const data of queued) {
        this.sendNow(socket, data, null);
      }
    });
    this.connection = 'connecting';
    this.peer = formatAddress(address.host, address.port);
  }

  /** `disconnect()`: back to sending to any address. */
  disconnect(): void {
    const socket = this.socket;
    if (socket !== null && this.connection === 'connected') {
      socket.disconnect();
    }
    this.connection = 'none';
    this.peer = null;
    this.queued = [];
    this.queuedBytes = 0;
  }

  /** `send(data[, address])`: throws when there is no address to send to (or one too many). */
  send(data: Buffer, address: SocketAddress | null): void {
    if (address === null) {
      if (this.socket === null || this.connection === 'none') {
        throw new Error('UDP socket not connected: send(data, address) needs an address');
      }
      if (this.connection === 'connecting') {
        if (this.queuedBytes + data.length > this.registry.bufferMax) {
          throw new Error(`more than ${this.registry.bufferMax} bytes queued while connecting (application.socketBuffer)`);
        }
        this.queued.push(Buffer.from(data));
        this.queuedBytes += data.length;
        return;
      }
      this.sendNow(this.socket, data, null);
      return;
    }
    if (this.connection !== 'none') {
      throw new Error(`UDP socket connected to ${this.peer}: send(data) takes no address`);
    }
    this.sendNow(this.open(address.host), data, address);
  }

  /** `close()`: the system socket is closed; bind or connect makes a new one. */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    this.connection = 'none';
    this.peer = null;
    this.queued = [];
    this.queuedBytes = 0;
    if (socket !== null) {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.close();
    }
  }

  protected shutdown(): void {
    this.events = null;
    this.close();
  }

  private sendNow(socket: Socket, data: Buffer, to: SocketAddress | null): void {
    if (data.length === 0) {
      return;
    }
    const done = (err: Error | null): void => {
      if (err !== null && this.socket === socket) {
        this.warn(`send: ${err.message}`);
      }
    };
    if (to === null) {
      socket.send(data, done);
    } else {
      socket.send(data, to.port, to.host, done);
    }
  }

  /** The system socket, made for `host`'s family on first use. */
  private open(host: string): Socket {
    const type = udpType(host);
    if (this.socket !== null) {
      if (type !== this.type) {
        throw new Error(`this ${this.type === 'udp4' ? 'IPv4' : 'IPv6'} socket cannot use ${host}`);
      }
      return this.socket;
    }
    const socket = createSocket({ type });
    this.socket = socket;
    this.type = type;
    socket.on('listening', () => {
      if (this.allowBroadcast) {
        try {
          socket.setBroadcast(true);
        } catch (err) {
          this.warn(`broadcast: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    });
    socket.on('message', (data, rinfo) => {
      if (this.socket !== socket || this.events === null) {
        return;
      }
      try {
        this.events.packet(data, formatAddress(rinfo.address, rinfo.port));
      } catch (err) {
        this.failed('onPacket', err, '');
      }
    });
    socket.on('error', (err) => {
      if (this.socket === socket) {
        this.warn(err.message);
      }
    });
    return socket;
  }
}
