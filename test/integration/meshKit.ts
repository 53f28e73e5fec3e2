/**
 * Real Nimbus processes joined in a mesh on loopback, for the seed scenarios (mesh*.test.ts).
 * Every process is killed at the end of the test file, whatever happened.
 */
import { createSocket } from 'node:dgram';
import { type Server as NetServer, type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpCallError, RtmpClient, type RtmpStatus } from '../../src/client/RtmpClient.js';
import { withTimeout } from '../helpers/ffmpeg.js';
import { ServerProcess } from '../helpers/serverProcess.js';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/mesh/${name}`, import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const until = async (cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(20);
  }
};

const tcpFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const udpFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });

/** A port number free for both TCP and UDP on loopback (RTMP and RTMFP on the same number, as 1935 is). */
export const freeDualPort = async (): Promise<number> => {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await tcpFree(port)) && (await udpFree(port))) {
      return port;
    }
  }
  throw new Error('no port free for both TCP and UDP');
};

export interface InstanceOptions {
  /** www tree under test/fixtures/mesh/. */
  fixture: string;
  /** `servers.port` (0: none); reuse a number to restart an instance in place. */
  meshPort?: number;
  /** `servers.targets`. */
  targets?: string;
  /** RTMP and RTMFP port (one number, TCP and UDP); given to restart in place. */
  port?: number;
  rtmfp?: boolean;
  /** `publicHost=127.0.0.1:<port>`: what `server.host` gives the other instances. */
  publicHost?: boolean;
  extra?: string[];
}

export interface Instance {
  readonly name: string;
  readonly process: ServerProcess;
  readonly port: number;
  readonly meshPort: number;
  readonly options: InstanceOptions;
  rtmp(path?: string): string;
  rtmfp(path?: string): string;
}

/** Every process started by this file, killed by `stopAll`. */
const running = new Set<ServerProcess>();

/** Starts `node dist/cli.js` with a mesh configuration; resolves once it listens. */
export const startInstance = async (name: string, options: InstanceOptions): Promise<Instance> => {
  const port = options.port ?? (await freeDualPort());
  const meshPort = options.meshPort ?? 0;
  const args = [
    '--host=127.0.0.1',
    `--RTMP.port=${port}`,
    `--RTMFP.port=${options.rtmfp === true ? port : 0}`,
    `--servers.port=${meshPort}`,
    `--servers.targets=${options.targets ?? ''}`,
    '--servers.heartbeat=1',
    '--servers.retryMax=1',
    `--application.dir=${fixture(options.fixture)}`,
    `--name=${name}`,
    '--log=7',
    ...(options.publicHost === true ? [`--publicHost=127.0.0.1:${port}`] : []),
    ...(options.extra ?? []),
  ];
  const process = new ServerProcess(args);
  running.add(process);
  await process.waitFor(meshPort > 0 ? /nimbus listening: servers/ : /nimbus listening: RTMP/, 15_000);
  return {
    name,
    process,
    port,
    meshPort,
    options: { ...options, port, meshPort },
    rtmp: (path = '') => `rtmp://127.0.0.1:${port}/${path}`,
    rtmfp: (path = '') => `rtmfp://127.0.0.1:${port}/${path}`,
  };
};

/** Starts `instance` again on the same ports, with the same options. */
export const restart = (instance: Instance): Promise<Instance> => startInstance(instance.name, instance.options);

export const kill = async (instance: Instance, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
  await instance.process.stop(signal);
  running.delete(instance.process);
};

export const stopAll = async (): Promise<void> => {
  await Promise.all([...running].map((p) => p.stop('SIGKILL').catch(() => null)));
  running.clear();
};

/** Number of times `re` matches the output of `instance`. */
export const count = (instance: Instance, re: RegExp): number => instance.process.output.match(new RegExp(re.source, 'g'))?.length ?? 0;

/** Waits until `re` matched `n` times in the output. */
export const waitCount = async (instance: Instance, re: RegExp, n: number, ms = 10_000): Promise<void> => {
  await until(() => count(instance, re) >= n, ms, `${n} × ${re} in ${instance.name}'s output\n${instance.process.output.slice(-2000)}`);
};

/** A free TCP port on loopback. */
export const freeTcpPort = async (): Promise<number> => {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if (await tcpFree(port)) {
      return port;
    }
  }
};

// --- clients following the seed's overflow redirection --------------------------------------

/**
 * The seed's ActionScript: on `NetStream.Play.Failed`, split the description on spaces, take the
 * last word as the host, close and connect again there (`"rtmfp://" + host`, here also rtmp://).
 */
export const redirectTarget = (status: RtmpStatus): string | null => {
  const words = String(status.description ?? '').split(' ');
  return words.length > 0 && words[words.length - 1] !== '' ? words[words.length - 1] : null;
};

export interface Player {
  /** Where it plays (after redirections). */
  readonly url: string;
  readonly redirects: string[];
  readonly video: Buffer[];
  close(): void;
}

/** Plays `stream` from `url` with the RTMP or RTMFP test client, following redirections as the seed's client does. */
export const playFollowing = async (protocol: 'rtmp' | 'rtmfp', url: string, stream: string, maxRedirects = 3): Promise<Player> => {
  const redirects: string[] = [];
  const video: Buffer[] = [];
  const onMedia = (type: number, _t: number, payload: Buffer): void => {
    if (type === 9) {
      video.push(Buffer.from(payload));
    }
  };
  for (let current = url; ; ) {
    const client = protocol === 'rtmp' ? new RtmpClient({ onMedia }) : new RtmfpClient({ onMedia });
    await withTimeout(client.connect(current), 10_000, `connect ${current}`);
    try {
      await client.play(stream);
      return { url: current, redirects, video, close: () => client.close() };
    } catch (err) {
      client.close();
      const host = err instanceof RtmpCallError && err.info.code === 'NetStream.Play.Failed' ? redirectTarget(err.info) : null;
      if (host === null || redirects.length >= maxRedirects) {
        throw err;
      }
      redirects.push(host);
      current = `${protocol}://${host}/`;
    }
  }
};

// --- a TCP proxy that can cut a mesh link silently -------------------------------------------

/**
 * Forwards loopback TCP connections to `upstreamPort`, recording what passes. `freeze()` stops
 * every byte both ways without closing anything (a cable pulled: only heartbeats can tell), and
 * new connections are held unanswered; `restore()` drops the frozen connections and forwards again.
 */
export class LinkProxy {
  readonly bytes: Buffer[] = [];
  private frozen = false;
  private readonly sockets = new Set<Socket>();
  private server: NetServer | null = null;
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.frozen) {
        client.pause();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort });
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        if (!this.frozen) {
          client.destroy();
        }
      });
      upstream.on('error', () => undefined);
      client.on('close', () => {
        if (!this.frozen) {
          upstream.destroy();
        }
      });
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (d: Buffer) => {
          if (!this.frozen) {
            this.bytes.push(Buffer.from(d));
            to.write(d);
          }
        });
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
  }

  freeze(): void {
    this.frozen = true;
  }

  restore(): void {
    this.frozen = false;
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.restore();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Everything that went through, both ways. */
  get recorded(): Buffer {
    return Buffer.concat(this.bytes);
  }
}
