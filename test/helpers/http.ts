import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { withTimeout } from './ffmpeg.js';
import { ServerProcess, freePort } from './serverProcess.js';

/** A nimbus process with RTMP and HTTP on free loopback ports, started in `cwd` (its www/). */
export const startHttpServer = async (extra: string[] = [], cwd?: string): Promise<{ server: ServerProcess; port: number; httpPort: number }> => {
  const port = await freePort();
  const httpPort = await freePort();
  const server = new ServerProcess([`--RTMP.port=${port}`, `--HTTP.port=${httpPort}`, '--RTMFP.port=0', '--host=127.0.0.1', '--log=7', ...extra], cwd);
  await server.waitFor(/nimbus listening: .*HTTP/);
  return { server, port, httpPort };
};

/** Sends raw bytes, resolves with everything received until the server closes (or 5 s). */
export const rawRequest = (port: number, request: string | Buffer, ms = 5000): Promise<string> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(request);
  });

interface Inbox {
  messages: { bytes: Buffer; isBinary: boolean }[];
  wake: (() => void) | null;
}
const inboxes = new WeakMap<WebSocket, Inbox>();

/** Opens `url`; every message is kept in order for `wsNext` (several can arrive in one event-loop turn). */
export const wsOpen = async (url: string): Promise<WebSocket> => {
  const ws = new WebSocket(url);
  const inbox: Inbox = { messages: [], wake: null };
  inboxes.set(ws, inbox);
  ws.on('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    inbox.messages.push({ bytes, isBinary });
    inbox.wake?.();
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    5000,
    `open ${url}`,
  );
  return ws;
};

/** The next message: parsed JSON for text, the bytes for binary (or always when `binary`). */
export const wsNext = async (ws: WebSocket, binary = false, ms = 5000): Promise<unknown> => {
  const inbox = inboxes.get(ws);
  if (inbox === undefined) {
    throw new Error('wsNext needs a WebSocket opened by wsOpen');
  }
  const deadline = Date.now() + ms;
  while (inbox.messages.length === 0) {
    if (Date.now() > deadline) {
      throw new Error(`no WebSocket message within ${ms} ms`);
    }
    await new Promise<void>((resolve) => {
      inbox.wake = resolve;
      setTimeout(resolve, 50);
    });
  }
  const { bytes, isBinary } = inbox.messages.shift()!;
  return binary || isBinary ? bytes : JSON.parse(bytes.toString('utf8'));
};
