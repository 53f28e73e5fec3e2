/**
 * A Nimbus process serving MonaServer's FunctionalTests www tree unchanged
 * (test/fixtures/mona-functional), for the TypeScript ports of its ActionScript tests
 * (monaFunctional*.test.ts). FunctionalTests.mxml connects every test to
 * `<protocol>://127.0.0.1/FunctionalTests/`: `app` is that path, on the ports of this process.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AmfReader, encodeAmf0 } from '../../src/amf/index.js';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { withTimeout } from '../helpers/ffmpeg.js';
import { ServerProcess, freePort } from '../helpers/serverProcess.js';
import { freeUdpPort } from '../helpers/udp.js';

export const fixtureDir = fileURLToPath(new URL('../fixtures/mona-functional/', import.meta.url));

/** FunctionalTests.mxml's applicationDefault. */
export const APP = '/FunctionalTests/';

export type Protocol = 'RTMP' | 'RTMFP';

export interface FunctionalServer {
  server: ServerProcess;
  rtmpPort: number;
  rtmfpPort: number;
  httpPort: number;
  /** `rtmp://127.0.0.1:port/FunctionalTests/<path>` (or rtmfp). */
  url: (protocol: Protocol, path?: string) => string;
  /** `http://127.0.0.1:port/FunctionalTests/<path>`. */
  http: (path?: string) => string;
}

export const startFunctionalServer = async (): Promise<FunctionalServer> => {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const rtmfpPort = await freeUdpPort();
  // Persistent data starts from MonaServer's data folder of the LUATests (kept once, in the luatests
  // fixture), copied so that nothing is written inside the repository.
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-functional-data-'));
  cpSync(fileURLToPath(new URL('../fixtures/mona-luatests/data', import.meta.url)), dataDir, { recursive: true });
  const server = new ServerProcess(
    [`--RTMP.port=${rtmpPort}`, `--HTTP.port=${httpPort}`, `--RTMFP.port=${rtmfpPort}`, '--host=127.0.0.1', '--log=7', `--application.dataDir=${dataDir}`],
    fixtureDir,
  );
  await server.waitFor(/nimbus listening: .*HTTP/);
  return {
    server,
    rtmpPort,
    rtmfpPort,
    httpPort,
    url: (protocol, path = '') => `${protocol.toLowerCase()}://127.0.0.1:${protocol === 'RTMP' ? rtmpPort : rtmfpPort}${APP}${path}`,
    http: (path = '') => `http://127.0.0.1:${httpPort}${APP}${path}`,
  };
};

/** A data message (type 18) a player received: its AMF0 values, the handler's name first. */
export interface DataMessage {
  streamId: number;
  values: unknown[];
}

/** A NetConnection of `protocol` that keeps every media and data message it gets. */
export class Connection {
  readonly client: RtmpClient | RtmfpClient;
  readonly data: DataMessage[] = [];
  /** Audio/video bytes received per stream (NetStream.info.byteCount counts these). */
  readonly mediaBytes = new Map<number, number>();
  readonly media: Array<{ streamId: number; type: number; timestamp: number; payload: Buffer }> = [];

  constructor(readonly protocol: Protocol) {
    const onMedia = (type: number, timestamp: number, payload: Buffer, streamId: number): void => {
      if (type === 18) {
        this.data.push({ streamId, values: new AmfReader(payload, 0).readAllAmf0() });
        return;
      }
      this.media.push({ streamId, type, timestamp, payload });
      this.mediaBytes.set(streamId, (this.mediaBytes.get(streamId) ?? 0) + payload.length);
    };
    this.client = protocol === 'RTMP' ? new RtmpClient({ onMedia }) : new RtmfpClient({ onMedia });
  }

  /** Data messages `handler(...)` received on `streamId`. */
  received(streamId: number, handler: string): unknown[][] {
    return this.data.filter((d) => d.streamId === streamId && d.values[0] === handler).map((d) => d.values.slice(1));
  }

  /** NetStream.send(handler, ...args) on a publishing stream. */
  send(streamId: number, ...values: unknown[]): void {
    // Data messages are plain AMF0 values (no transaction ID nor command object).
    this.client.writeMedia(streamId, 18, 0, encodeAmf0(...values));
  }

  /** NetStream.close(). */
  closeStream(streamId: number): void {
    this.client.streamCommand(streamId, 'closeStream');
  }

  close(): void {
    this.client.close();
  }
}

/** Connects a new NetConnection of `protocol` to `url`. */
export const connectTo = async (protocol: Protocol, url: string, extra: Record<string, unknown> = {}): Promise<Connection> => {
  const connection = new Connection(protocol);
  await withTimeout(connection.client.connect(url, extra), 10_000, `connect ${url}`);
  return connection;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const until = async (cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(10);
  }
};

/** Test.as's Equals (run it both ways): every int or string of `a` equal in `b`, recursively. */
export const asEquals = (a: unknown, b: unknown): boolean => {
  if (typeof a !== 'object' || a === null) {
    return true;
  }
  for (const [key, value] of Object.entries(a)) {
    const other = typeof b === 'object' && b !== null ? (b as Record<string, unknown>)[key] : undefined;
    if (!(Number.isInteger(value) || typeof value === 'string')) {
      if (!asEquals(value, other)) {
        return false;
      }
    } else if (value !== other) {
      return false;
    }
  }
  return true;
};

/** Resolves true when the server closes the connection after `bytes` (false after `ms`). */
export const closedAfter = (port: number, bytes: string | Buffer, ms = 5000): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, ms);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('connect', () => socket.write(bytes));
    socket.resume();
  });
