import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './ffmpeg.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = `${repoRoot}dist/cli.js`;

/** A free TCP port on loopback (bound then released; fine for tests on one machine). */
export const freePort = async (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** A real `nimbus` process (built `dist/cli.js`), with its output collected for assertions. */
export class ServerProcess {
  readonly child: ChildProcess;
  private out = '';
  private err = '';
  private readonly waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[], cwd = repoRoot) {
    // Tests run side by side: no HTTP listener on the default 8080 unless a test asks for one.
    const http = args.some((a) => a.startsWith('--HTTP.port=')) ? [] : ['--HTTP.port=0'];
    this.child = spawn(process.execPath, [cliPath, ...http, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const feed = (d: Buffer, which: 'out' | 'err'): void => {
      if (which === 'out') {
        this.out += d.toString();
      } else {
        this.err += d.toString();
      }
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i].re.test(this.output)) {
          this.waiters[i].resolve();
          this.waiters.splice(i, 1);
        }
      }
    };
    this.child.stdout!.on('data', (d: Buffer) => feed(d, 'out'));
    this.child.stderr!.on('data', (d: Buffer) => feed(d, 'err'));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get output(): string {
    return this.out + this.err;
  }

  /** Resolves when the combined output matches `re`. */
  async waitFor(re: RegExp, ms = 15_000): Promise<void> {
    if (re.test(this.output)) {
      return;
    }
    await withTimeout(new Promise<void>((resolve) => this.waiters.push({ re, resolve })), ms, `server output ${re}\n${this.output.slice(-3000)}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    }
    return withTimeout(this.exited, 10_000, 'server exit');
  }
}

/** Starts nimbus on a free RTMP port and waits until it listens. */
export const startServer = async (extra: string[] = [], cwd?: string): Promise<{ server: ServerProcess; port: number }> => {
  const port = await freePort();
  const server = new ServerProcess([`--RTMP.port=${port}`, '--RTMFP.port=0', '--host=127.0.0.1', '--log=7', ...extra], cwd);
  await server.waitFor(/nimbus listening: RTMP/);
  return { server, port };
};
