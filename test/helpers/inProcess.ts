import { loadConfig } from '../../src/config/loadConfig.js';
import type { ServerHooks } from '../../src/core/ServerHooks.js';
import { Server } from '../../src/Server.js';
import { LogLevel, setLogLevel, setLogSink } from '../../src/util/Logger.js';
import { freePort } from './serverProcess.js';

/** Log lines of in-process servers, for assertions ("the session was closed with a reason"). */
export const logLines: string[] = [];
setLogLevel(LogLevel.DEBUG);
setLogSink((level, scope, message) => {
  logLines.push(`${level} [${scope}] ${message}`);
  if (logLines.length > 20_000) {
    logLines.splice(0, 10_000);
  }
});

export const waitForLog = async (re: RegExp, ms = 10_000): Promise<string> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = logLines.find((l) => re.test(l));
    if (line !== undefined) {
      return line;
    }
    if (Date.now() > deadline) {
      throw new Error(`no log line ${re} within ${ms} ms; last lines:\n${logLines.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
};

/**
 * A Server in this process on a free loopback port, with optional hooks and config overrides.
 * RTMP runs on 2 media workers whatever the machine's core count (tests that need the main
 * thread set `RTMP.workers=0`), so every machine runs the same threads.
 */
export const startInProcess = async (
  overrides: Record<string, string> = {},
  hooks?: ServerHooks,
): Promise<{ server: Server; port: number; url: (path: string) => string }> => {
  const port = await freePort();
  const { config } = loadConfig({ file: null, overrides: { host: '127.0.0.1', 'RTMP.port': String(port), 'RTMFP.port': '0', 'HTTP.port': '0', 'RTMP.workers': '2', ...overrides }, cwd: '/nonexistent-dir-for-tests' });
  const server = new Server(config, hooks);
  await server.start();
  return { server, port, url: (path: string) => `rtmp://127.0.0.1:${port}/${path}` };
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
