import { once } from 'node:events';
import { type Server, type Socket, connect, createServer } from 'node:net';

/** Both ends of one loopback TCP connection. */
export interface TcpPair {
  /** The connecting end. */
  client: Socket;
  /** The listener's end of the same connection (matched by port, not by arrival order). */
  accepted: Socket;
}

/**
 * A loopback listener that hands out connected socket pairs, for tests of code that writes to
 * sockets (both ends are real kernel sockets). `close()` destroys every pair and the listener.
 */
export class LoopbackTcp {
  private server: Server | null = null;
  private readonly waiting = new Map<number, Socket>();
  private readonly open: Socket[] = [];

  async start(): Promise<void> {
    this.server = createServer((s) => this.waiting.set(s.remotePort ?? -1, s));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async pair(): Promise<TcpPair> {
    const port = (this.server!.address() as { port: number }).port;
    const client = connect({ port, host: '127.0.0.1' });
    await once(client, 'connect');
    const key = client.localPort ?? -2;
    for (let i = 0; i < 2000 && !this.waiting.has(key); i++) {
      await new Promise((r) => setImmediate(r));
    }
    const accepted = this.waiting.get(key);
    if (accepted === undefined) {
      throw new Error('the listener never saw the connection');
    }
    this.waiting.delete(key);
    this.open.push(client, accepted);
    return { client, accepted };
  }

  async close(): Promise<void> {
    for (const s of this.open) {
      s.destroy();
    }
    const server = this.server;
    this.server = null;
    if (server !== null) {
      await new Promise((r) => server.close(r));
    }
  }
}

/** Collects what `socket` receives; returns a reader of all of it so far. */
export function collect(socket: Socket): () => Buffer {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return () => Buffer.concat(chunks);
}
