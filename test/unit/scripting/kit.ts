import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../../src/config/loadConfig.js';
import { Client, type ClientWriter } from '../../../src/core/Client.js';
import { Core } from '../../../src/core/Core.js';
import type { Publication } from '../../../src/core/Publication.js';
import { DefaultHooks } from '../../../src/core/ServerHooks.js';
import type { MediaFrame } from '../../../src/media/MediaFrame.js';
import { AppHost } from '../../../src/scripting/AppHost.js';
import type { ServerDirectory } from '../../../src/scripting/ServerDirectory.js';
import { LogLevel, setLogLevel, setLogSink } from '../../../src/util/Logger.js';

/** Log lines of the scripting tests (assertions read them). */
export const logs: string[] = [];
setLogLevel(LogLevel.DEBUG);
setLogSink((level, scope, message) => {
  logs.push(`${level} [${scope}] ${message}`);
  if (logs.length > 10_000) {
    logs.splice(0, 5_000);
  }
});

/** Writes `files` (path relative to the app dir → content) into a fresh application dir. */
export const appDir = (files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-apps-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
};

export class RecordingWriter implements ClientWriter {
  readonly calls: Array<[string, unknown[]]> = [];
  closed: string | null = null;

  writeInvocation(name: string, ...args: unknown[]): void {
    this.calls.push([name, args]);
  }

  writeMessage(...args: unknown[]): void {
    this.calls.push(['onMessage', args]);
  }

  close(reason?: string): void {
    this.closed = reason ?? '';
  }
}

export interface Harness {
  host: AppHost;
  core: Core;
  dir: string;
  client(path?: string, properties?: Record<string, unknown>): Client & { writer: RecordingWriter };
  connect(client: Client, ...args: unknown[]): Promise<Record<string, unknown>>;
}

/** An AppHost on a Core (no protocol), over the given app files. */
export const harness = async (files: Record<string, string>, overrides: Record<string, string> = {}, servers?: ServerDirectory): Promise<Harness> => {
  const dir = appDir(files);
  const { config } = loadConfig({ file: null, overrides: { 'application.dir': dir, ...overrides }, cwd: dir });
  const core = new Core(new DefaultHooks(), { gopCache: true, gopCacheMaxBytes: 1 << 20, subscriberQueueBytes: 1 << 20, subscriberTimeoutMs: 10_000, recordDir: config.application.recordDir });
  const host = new AppHost(core, config, servers);
  core.hooks = host;
  await host.start();
  return {
    host,
    core,
    dir,
    client: (path = '', properties = {}) => {
      const c = new Client('RTMP', '127.0.0.1:5000', new RecordingWriter()) as Client & { writer: RecordingWriter };
      c.path = path;
      c.properties = { ...properties };
      return c;
    },
    connect: (client, ...args) => core.connect(client, args),
  };
};

/** Every frame pushed into `publication` from now on, as an output of its feed sees it. */
export const capture = <T>(publication: Publication, map: (frame: MediaFrame) => T): T[] => {
  const got: T[] = [];
  publication.feed.add({ writeFrame: (frame) => got.push(map(frame)), onPublishing: () => undefined });
  return got;
};

/** The scripts' media hooks run on the turn after the frames (ScriptTaps): wait for it. */
export const hooksRan = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
