/**
 * Child processes for benchmarks: the servers under test (each in its own process, so its CPU and
 * memory can be read from /proc), free loopback ports, and /proc readers.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let clockTicks = 0;
/** Kernel clock ticks per second (utime/stime unit in /proc/<pid>/stat). */
export const clockTicksPerSecond = (): number => {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
};

/** CPU seconds a process has used so far in user and kernel mode, from /proc/<pid>/stat; NaN if gone. */
export const readCpuTimes = (pid: number): { user: number; system: number } => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces: split after its closing parenthesis. utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / clockTicksPerSecond(), system: Number(fields[12]) / clockTicksPerSecond() };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
};

/** CPU seconds (user + system) a process has used so far; NaN if gone. */
export const readCpuSeconds = (pid: number): number => {
  const t = readCpuTimes(pid);
  return t.user + t.system;
};

/**
 * CPU seconds the whole machine spent busy (all cores: user, nice, system, irq, softirq, steal) and in
 * softirq, from /proc/stat. Loopback TCP work done in softirq is charged to no process.
 */
export const readMachineCpu = (): { busy: number; softirq: number } => {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return { busy: (user + nice + system + irq + softirq + steal) / clockTicksPerSecond(), softirq: softirq / clockTicksPerSecond() };
  } catch {
    return { busy: Number.NaN, softirq: Number.NaN };
  }
};

/** Resident set size in KiB (VmRSS of /proc/<pid>/status); NaN if gone. */
export const readRssKiB = (pid: number): number => {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? Number.NaN : Number(m[1]);
  } catch {
    return Number.NaN;
  }
};

/** A free TCP port on loopback (bound then released). */
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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what` if `promise` has not settled within `ms`. */
export const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/** Every child a benchmark started and has not seen exit: killed if the benchmark itself exits early. */
const live = new Set<ChildProcess>();
export const track = (child: ChildProcess): void => {
  live.add(child);
  child.once('exit', () => live.delete(child));
};
let cleanupInstalled = false;
/** On exit, Ctrl-C or SIGTERM, kill the children still running (so no server outlives the benchmark). */
export const installCleanup = (): void => {
  if (cleanupInstalled) {
    return;
  }
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      child.kill('SIGKILL');
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => process.exit(130));
  }
};

export type ServerKind = 'nimbus' | 'nms';

export interface ServerHandle {
  kind: ServerKind;
  pid: number;
  port: number;
  child: ChildProcess;
  /** Everything the server printed (bounded to the last 64 KiB). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code or signal. */
  stop(): Promise<string>;
}

export interface StartServerOptions {
  /** Extra node options for the server process (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

const commandFor = (kind: ServerKind, port: number): { args: string[]; ready: RegExp } => {
  if (kind === 'nimbus') {
    // --log=3: errors only, like the peer (per-session info lines would cost both of them CPU).
    // BENCH_NIMBUS_CLI: another build's cli.js (compare a branch or an experiment with dist/).
    return {
      args: [process.env.BENCH_NIMBUS_CLI ?? `${repoRoot}dist/cli.js`, `--RTMP.port=${port}`, '--host=127.0.0.1', '--log=3'],
      ready: /nimbus listening: RTMP/,
    };
  }
  return {
    args: [`${repoRoot}bench/peers/nms-server.mjs`, `--port=${port}`, '--host=127.0.0.1'],
    ready: /nms listening: RTMP/,
  };
};

/** Starts a server on a free loopback port and waits until it listens. */
export const startServer = async (kind: ServerKind, options: StartServerOptions = {}): Promise<ServerHandle> => {
  const port = await freePort();
  const { args, ready } = commandFor(kind, port);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let out = '';
  const feed = (d: Buffer): void => {
    out = (out + d.toString()).slice(-65536);
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (ready.test(out)) {
          resolve();
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then((how) => reject(new Error(`${kind} exited (${how}) before listening:\n${out}`)));
    }),
    15_000,
    `${kind} listening\n${out}`,
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    kind,
    pid: child.pid!,
    port,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      try {
        return await withTimeout(exited, 5000, `${kind} exit`);
      } catch {
        child.kill('SIGKILL');
        return withTimeout(exited, 5000, `${kind} exit after SIGKILL`);
      }
    },
  };
};

/** True when some file under src/ is newer than dist/cli.js (the server would run stale code). */
export const distIsStale = (): boolean => {
  const cli = `${repoRoot}dist/cli.js`;
  if (!existsSync(cli)) {
    return true;
  }
  const built = statSync(cli).mtimeMs;
  const walk = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') && statSync(`${dir}/${e.name}`).mtimeMs > built,
    );
  return walk(`${repoRoot}src`);
};

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  loadavg: number[];
}

export const machineInfo = (): MachineInfo => ({
  nproc: cpus().length,
  cpuModel: cpus()[0]?.model ?? '?',
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
});
