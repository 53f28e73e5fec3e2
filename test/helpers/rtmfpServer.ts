import type { ServerHooks } from '../../src/core/ServerHooks.js';
import type { Server } from '../../src/Server.js';
import { sleep, startInProcess } from './inProcess.js';
import { freeUdpPort } from './udp.js';

export interface RtmfpTestServer {
  server: Server;
  port: number;
  rtmfp: (path: string) => string;
  rtmp: (path: string) => string;
}

/** An in-process server with RTMFP on a free UDP port (plus RTMP), optional hooks and config. */
export const startRtmfpServer = async (overrides: Record<string, string> = {}, hooks?: ServerHooks): Promise<RtmfpTestServer> => {
  const port = await freeUdpPort();
  const { server, url } = await startInProcess({ 'RTMFP.port': String(port), 'RTMFP.workers': '0', ...overrides }, hooks);
  return { server, port, rtmfp: (path) => `rtmfp://127.0.0.1:${port}/${path}`, rtmp: url };
};

export const until = async (cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(10);
  }
};
