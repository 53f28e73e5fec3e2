import { type Socket, createSocket } from 'node:dgram';

/**
 * A UDP proxy on loopback that drops, duplicates and reorders a share of the datagrams in both
 * directions (deterministic PRNG). Each client address gets its own upstream socket, so the
 * server sees one stable address per client.
 */
export class LossyProxy {
  private readonly front: Socket = createSocket('udp4');
  private readonly upstreams = new Map<string, Socket>();
  private state: number;
  dropped = 0;
  duplicated = 0;
  delayed = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly rate: number,
    seed = 12345,
  ) {
    this.state = seed >>> 0 || 1;
  }

  private random(): number {
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    return (this.state >>> 0) / 0x100000000;
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.front.bind(0, '127.0.0.1', resolve));
    this.front.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      let upstream = this.upstreams.get(key);
      if (upstream === undefined) {
        const socket = createSocket('udp4');
        upstream = socket;
        this.upstreams.set(key, socket);
        socket.bind(0, '127.0.0.1');
        socket.on('message', (reply) => this.forward(reply, (b) => this.front.send(b, rinfo.port, rinfo.address)));
      }
      const up = upstream;
      this.forward(msg, (b) => up.send(b, this.target.port, this.target.host));
    });
    return this.front.address().port;
  }

  /** Drop, duplicate, delay (reorder) or pass one datagram. */
  private forward(msg: Buffer, send: (b: Buffer) => void): void {
    const r = this.random();
    const share = this.rate / 3;
    if (r < share) {
      this.dropped++;
      return;
    }
    if (r < 2 * share) {
      this.duplicated++;
      send(msg);
      setTimeout(() => send(msg), 5);
      return;
    }
    if (r < 3 * share) {
      this.delayed++;
      setTimeout(() => send(msg), 15 + Math.floor(this.random() * 30));
      return;
    }
    send(msg);
  }

  close(): void {
    this.front.close();
    for (const socket of this.upstreams.values()) {
      socket.close();
    }
  }
}
