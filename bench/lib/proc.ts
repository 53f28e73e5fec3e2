/**
 * Child processes for benchmarks: the servers under test (each in its own process, so its CPU and
 * memory can be read from /proc), free loopback ports, and /proc readers.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
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

/** CPU seconds (user + system) one thread of a process has used so far (`tid` = `pid`: the main thread); NaN if gone. */
export const readThreadCpuSeconds = (pid: number, tid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
  } catch {
    return Number.NaN;
  }
};

/** CPU seconds (user + system) of every thread of a process so far, by thread ID. */
export const readThreadsCpu = (pid: number): Map<number, number> => {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      out.set(Number(tid), readThreadCpuSeconds(pid, Number(tid)));
    }
  } catch {
    // the process is gone
  }
  return out;
};

/**
 * The `n` busiest threads other than the main one between two readings, as % of one core over
 * `seconds`, busiest first: the media workers of a Nimbus run with `n` workers (V8's own helper
 * threads use far less).
 */
export const busiestThreads = (pid: number, before: Map<number, number>, after: Map<number, number>, seconds: number, n: number): number[] =>
  [...after]
    .filter(([tid]) => tid !== pid)
    .map(([tid, cpu]) => ((cpu - (before.get(tid) ?? 0)) / seconds) * 100)
    .sort((a, b) => b - a)
    .slice(0, n);

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

/** The machine's UDP counters (/proc/net/snmp): datagrams in and out, and the ones dropped for a full receive or send buffer. */
export const readUdpCounters = (): { inDatagrams: number; outDatagrams: number; rcvbufErrors: number; sndbufErrors: number } => {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/).slice(1);
    const values = lines[1].split(/\s+/).slice(1).map(Number);
    const get = (n: string): number => values[names.indexOf(n)] ?? Number.NaN;
    return { inDatagrams: get('InDatagrams'), outDatagrams: get('OutDatagrams'), rcvbufErrors: get('RcvbufErrors'), sndbufErrors: get('SndbufErrors') };
  } catch {
    return { inDatagrams: Number.NaN, outDatagrams: Number.NaN, rcvbufErrors: Number.NaN, sndbufErrors: Number.NaN };
  }
};

/** Datagrams dropped so far by the IPv4 UDP sockets bound to `ports` (the `drops` column of /proc/net/udp). */
export const readUdpDrops = (ports: number[]): number => {
  try {
    const wanted = new Set(ports);
    let drops = 0;
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) {
        continue;
      }
      if (wanted.has(parseInt(f[1].split(':')[1], 16))) {
        drops += Number(f[f.length - 1]);
      }
    }
    return drops;
  } catch {
    return Number.NaN;
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

/** Ports free for both TCP and UDP on loopback (RTMP and RTMFP on one number, as 1935 is), or UDP only. */
const udpFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });

const tcpFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A port number free for TCP and UDP on loopback (Nimbus serves RTMP and RTMFP on the same number). */
export const freeDualPort = async (): Promise<number> => {
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (await udpFree(port)) {
      return port;
    }
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
};

/** True when `port` can be bound on loopback, TCP and UDP. */
export const dualPortFree = async (port: number): Promise<boolean> => (await tcpFree(port)) && (await udpFree(port));

/** Every process of the machine with its parent, from /proc/<pid>/stat. */
const parents = (): Map<number, number> => {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
};

/** `pid` and all its descendants (nginx: the master and its workers). */
export const processTree = (pid: number): number[] => {
  const ppid = parents();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of ppid) {
      if (parent === tree[i]) {
        tree.push(child);
      }
    }
  }
  return tree;
};

export type ServerKind = 'nimbus' | 'nms' | 'nginx';

export interface ServerHandle {
  kind: ServerKind;
  /** The process started (nginx: the master; its workers are in `pids`). */
  pid: number;
  port: number;
  child: ChildProcess;
  /** The processes whose CPU and memory are the server's (nginx: master + workers). */
  pids: number[];
  /** CPU seconds of `pids` (worker threads are part of their process). */
  cpu(): { user: number; system: number };
  /** Resident KiB of `pids` together. */
  rssKiB(): number;
  /** Everything the server printed (bounded to the last 64 KiB). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code or signal. */
  stop(): Promise<string>;
}

export interface StartServerOptions {
  /** Extra node options for the server process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Extra arguments for Nimbus (`--RTMFP.workers=2`...). */
  args?: string[];
  /** Environment changes (`NIMBUS_NO_NATIVE: '1'`; undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** The port to serve on (default: a free one; Nimbus: TCP for RTMP and UDP for RTMFP). */
  port?: number;
  /** What the server prints once it is ready (default: its RTMP listening line). */
  ready?: RegExp;
  /** Nimbus: disable RTMP, serve RTMFP only on `port`. */
  rtmfpOnly?: boolean;
  /** Nimbus: serve RTMFP on `port` too (UDP). */
  rtmfp?: boolean;
  /** HTTP port for HTTP-FLV (Nimbus's HTTP.port, node-media-server's http.port); default: none. */
  httpPort?: number;
}

const commandFor = (kind: ServerKind, port: number, o: StartServerOptions): { args: string[]; ready: RegExp } => {
  if (kind === 'nimbus') {
    // --log=3: errors only, like the peers (per-session info lines would cost both of them CPU).
    // BENCH_NIMBUS_CLI: another build's cli.js (compare a branch or an experiment with dist/).
    const protocols = o.rtmfpOnly === true ? ['--RTMP.port=0', `--RTMFP.port=${port}`] : [`--RTMP.port=${port}`, `--RTMFP.port=${o.rtmfp === true ? port : 0}`];
    return {
      args: [process.env.BENCH_NIMBUS_CLI ?? `${repoRoot}dist/cli.js`, ...protocols, '--host=127.0.0.1', '--log=3', `--HTTP.port=${o.httpPort ?? 0}`, ...(o.args ?? [])],
      ready: o.ready ?? (o.rtmfpOnly === true ? /nimbus listening: RTMFP/ : /nimbus listening: RTMP/),
    };
  }
  return {
    args: [`${repoRoot}bench/peers/nms-server.mjs`, `--port=${port}`, '--host=127.0.0.1', ...(o.httpPort === undefined ? [] : [`--http-port=${o.httpPort}`])],
    ready: /nms listening: RTMP/,
  };
};

const treeCpu = (pids: () => number[]) => (): { user: number; system: number } => {
  let user = 0;
  let system = 0;
  for (const pid of pids()) {
    const t = readCpuTimes(pid);
    if (Number.isFinite(t.user)) {
      user += t.user;
      system += t.system;
    }
  }
  return { user, system };
};

const treeRss = (pids: () => number[]) => (): number => pids().reduce((a, pid) => a + (readRssKiB(pid) || 0), 0);

/** Collects a child's output (last 64 KiB) and resolves `ready` once `re` matched it. */
const watchOutput = (child: ChildProcess): { output: () => string; waitFor: (re: RegExp, ms: number, what: string) => Promise<void>; exited: Promise<string> } => {
  let out = '';
  const waiters: Array<() => void> = [];
  const feed = (d: Buffer): void => {
    out = (out + d.toString()).slice(-65536);
    for (const w of waiters) {
      w();
    }
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const waitFor = (re: RegExp, ms: number, what: string): Promise<void> =>
    withTimeout(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (re.test(out)) {
            resolve();
          }
        };
        waiters.push(check);
        check();
        void exited.then((how) => reject(new Error(`${what} exited (${how}) before it was ready:\n${out}`)));
      }),
      ms,
      `${what} ready\n${out}`,
    );
  return { output: () => out, waitFor, exited };
};

const stopper = (child: ChildProcess, exited: Promise<string>, what: string) => async (): Promise<string> => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
  }
  try {
    return await withTimeout(exited, 5000, `${what} exit`);
  } catch {
    child.kill('SIGKILL');
    return withTimeout(exited, 5000, `${what} exit after SIGKILL`);
  }
};

/** This process's environment with `changes` applied (an undefined value removes the variable). */
export const withEnv = (changes: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) {
      delete env[k];
    } else {
      env[k] = v;
    }
  }
  return env;
};

/** Starts a server on a free loopback port (or `options.port`) and waits until it listens. */
export const startServer = async (kind: ServerKind, options: StartServerOptions = {}): Promise<ServerHandle> => {
  if (kind === 'nginx') {
    return startNginx(options.port);
  }
  const port = options.port ?? (options.rtmfp === true || options.rtmfpOnly === true ? await freeDualPort() : await freePort());
  const { args, ready } = commandFor(kind, port, options);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withEnv(options.env),
  });
  track(child);
  const watch = watchOutput(child);
  await watch.waitFor(ready, 15_000, kind).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const pids = (): number[] => [child.pid!];
  return {
    kind,
    pid: child.pid!,
    port,
    child,
    get pids() {
      return pids();
    },
    cpu: treeCpu(pids),
    rssKiB: treeRss(pids),
    output: watch.output,
    stop: stopper(child, watch.exited, kind),
  };
};

// --- nginx with the RTMP module (Debian: nginx + libnginx-mod-rtmp) --------------------------------

const NGINX_BIN = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
const NGINX_RTMP_MODULE = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/local/nginx/modules/ngx_rtmp_module.so'];

/** nginx and its RTMP module, or why they cannot be used (BENCH_NGINX=/path/to/nginx overrides the binary). */
export const nginxAvailable = (): { bin: string; module: string; version: string } | { reason: string } => {
  const bin = process.env.BENCH_NGINX ?? NGINX_BIN.find((p) => existsSync(p));
  if (bin === undefined || !existsSync(bin)) {
    return { reason: 'nginx is not installed (Debian: apt-get install -y nginx libnginx-mod-rtmp)' };
  }
  const module = NGINX_RTMP_MODULE.find((p) => existsSync(p));
  if (module === undefined) {
    return { reason: `the nginx RTMP module is not installed (no ${NGINX_RTMP_MODULE.join(' or ')}; Debian: apt-get install -y libnginx-mod-rtmp)` };
  }
  // nginx -v writes to stderr.
  const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const version = `${v.stderr ?? ''}${v.stdout ?? ''}`.trim() || '?';
  let moduleVersion = '';
  try {
    moduleVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-rtmp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not Debian: leave it out
  }
  return { bin, module, version: `${version.replace(/^nginx version: /, '')}${moduleVersion === '' ? '' : `, libnginx-mod-rtmp ${moduleVersion}`}` };
};

const connectable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/**
 * nginx-rtmp in a temporary prefix: master + 1 worker in the foreground (`daemon off`), the RTMP
 * module with one `live` application, pid, logs and temp files in the temporary folder, errors
 * logged only. Its CPU and memory are the master's and the worker's together.
 */
export const startNginx = async (fixedPort?: number): Promise<ServerHandle> => {
  const found = nginxAvailable();
  if ('reason' in found) {
    throw new Error(found.reason);
  }
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(`${tmpdir()}/nimbus-bench-nginx-`);
  const conf = `# written by bench/lib/proc.ts
load_module ${found.module};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 10000; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live { live on; }
  }
}
`;
  writeFileSync(`${dir}/nginx.conf`, conf);
  // -e: the error log before the configuration is read (else /var/log/nginx/error.log).
  const child = spawn(found.bin, ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const watch = watchOutput(child);
  const began = Date.now();
  let failure: string | null = null;
  void watch.exited.then((how) => {
    failure = `nginx exited (${how}): ${watch.output()}${existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8').slice(-2000) : ''}`;
  });
  while (!(await connectable(port))) {
    if (failure !== null || Date.now() - began > 15_000) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(failure ?? 'nginx did not listen within 15 s');
    }
    await sleep(50);
  }
  // The worker is forked right after the master binds: wait until it exists.
  while (processTree(child.pid!).length < 2 && Date.now() - began < 15_000) {
    await sleep(20);
  }
  const pids = (): number[] => processTree(child.pid!);
  const stop = stopper(child, watch.exited, 'nginx');
  return {
    kind: 'nginx',
    pid: child.pid!,
    port,
    child,
    get pids() {
      return pids();
    },
    cpu: treeCpu(pids),
    rssKiB: treeRss(pids),
    output: () => `${watch.output()}${existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8').slice(-4000) : ''}`,
    stop: async () => {
      // nginx: SIGQUIT is graceful (waits for connections), SIGTERM fast: the players are gone already.
      const how = await stop();
      rmSync(dir, { recursive: true, force: true });
      // Exit code 0 after SIGTERM is normal for nginx.
      return how === '0' ? 'SIGTERM' : how;
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
