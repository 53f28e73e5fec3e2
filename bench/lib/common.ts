/**
 * What the macro benchmarks share: the player process handle (bench/lib/playerProcess.ts), medians,
 * the Nimbus build being measured, the native kernels' availability, and the JSON result file.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadNativeKernels } from '../../src/kernels/index.js';
import type { PlayerCommand, PlayerEvent, ReportEvent } from './playerIpc.js';
import { LogLevel, setLogLevel } from '../../src/util/Logger.js';
import { type MachineInfo, distIsStale, installCleanup, machineInfo, repoRoot, sleep, track, withEnv, withTimeout } from './proc.js';
import { LatencyHistogram } from './stats.js';

/** A child process of the benchmark driven over IPC (player or handshake load), as seen from the benchmark. */
export class LoadProcess<Command, Event extends { ev: string }> {
  readonly child: ChildProcess;
  private readonly waiting: Array<(e: Event) => void> = [];
  private readonly exited: Promise<void>;

  /**
   * `module`: the process's file (run with tsx); `env`: its environment additions. BENCH_PLAYER_NODE_ARGS
   * adds node options (e.g. --cpu-prof) to every load process.
   */
  constructor(module: URL, env: Record<string, string | undefined> = {}) {
    this.child = fork(module, [], {
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_PLAYER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: withEnv(env),
    });
    track(this.child);
    this.child.on('message', (e: Event) => {
      this.waiting.shift()?.(e);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(cmd: Command): void {
    if (this.child.connected) {
      this.child.send(cmd as object);
    }
  }

  /** The next event from the process. */
  async next<T extends Event>(ev: T['ev'], timeoutMs: number): Promise<T> {
    const event = await withTimeout(
      new Promise<Event>((resolve, reject) => {
        this.waiting.push(resolve);
        void this.exited.then(() => reject(new Error('load process exited')));
      }),
      timeoutMs,
      `load process: ${ev}`,
    );
    if (event.ev === 'error') {
      throw new Error(`load process: ${(event as unknown as { message: string }).message}`);
    }
    if (event.ev !== ev) {
      throw new Error(`load process: expected ${ev}, got ${event.ev}`);
    }
    return event as T;
  }

  async stop(): Promise<void> {
    this.send({ cmd: 'stop' } as Command);
    try {
      await withTimeout(this.exited, 5000, 'load process exit');
    } catch {
      this.child.kill('SIGKILL');
    }
  }
}

/** One player process (N RTMP or RTMFP players). */
export class PlayerProcess extends LoadProcess<PlayerCommand, PlayerEvent> {
  constructor(env: Record<string, string | undefined> = {}) {
    super(new URL('./playerProcess.ts', import.meta.url), env);
  }
}

// The benchmark's own clients (publisher, load processes) log warnings and errors only.
setLogLevel(LogLevel.WARN);

export const median = (values: number[]): number => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? Number.NaN : v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** `n` split into `parts` near-equal positive parts. */
export const split = (n: number, parts: number): number[] =>
  Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0)).filter((x) => x > 0);

export interface NimbusBuild {
  cli: string;
  commit: string;
  srcDirty: boolean | null;
}

/** What Nimbus build runs: its cli.js, the repository's commit, and whether src/ had uncommitted changes. */
export const nimbusBuild = (): NimbusBuild => {
  const git = (...args: string[]): string | null => {
    try {
      return execFileSync('git', ['-C', repoRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const status = git('status', '--porcelain', '--', 'src', 'native');
  return {
    cli: process.env.BENCH_NIMBUS_CLI ?? `${repoRoot}dist/cli.js`,
    // BENCH_NIMBUS_LABEL names an external build (BENCH_NIMBUS_CLI) in the report.
    commit: process.env.BENCH_NIMBUS_CLI !== undefined ? (process.env.BENCH_NIMBUS_LABEL ?? 'external build') : (git('rev-parse', '--short', 'HEAD') ?? '?'),
    srcDirty: status === null ? null : status !== '',
  };
};

/** The version of an npm package in node_modules, or '?'. */
export const packageVersion = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(`${repoRoot}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
};

/** null when the native kernels addon loads here (so the server's default is native), else why not. */
export const nativeUnavailable = (): string | null => {
  const k = loadNativeKernels();
  return typeof k === 'string' ? k : null;
};

/** Writes `run` as `<outDir>/<name>-<startedAt>.json` (non-finite numbers as null); returns the path. */
export const writeResult = (outDir: string, name: string, startedAt: Date, run: object): string => {
  mkdirSync(outDir, { recursive: true });
  const file = `${outDir}/${name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ ...run, resultFile: file }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return file;
};

/** A number parser for option values: `fallback` when absent, else a number in min..max. */
export const numberOption = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new Error(`--${name}=${raw}: expected a number in ${min}..${max}`);
  }
  return v;
};

/** The header line every benchmark prints above its table. */
export const machineLine = (name: string, m: { nproc: number; cpuModel: string; node: string; loadavg: number[] }, end: { loadavg: number[] }, seconds: number): string =>
  `${name} — ${m.nproc} cores (${m.cpuModel}), node ${m.node}, load average ${m.loadavg.join(' ')} → ${end.loadavg.join(' ')}, ${seconds} s${m.nproc <= 2 ? ' (2 cores shared with other work: servers, load generators and loopback traffic all on them)' : ''}`;

/** "nimbus <commit> from <cli>", with a warning when src/ or native/ had uncommitted changes. */
export const nimbusLine = (nimbus: NimbusBuild): string =>
  `nimbus ${nimbus.commit}${nimbus.srcDirty === true ? ' (src/ or native/ has uncommitted changes)' : ''} from ${nimbus.cli}`;

/** Command-line options every benchmark takes (each adds its own to these). */
export const commonOptions = {
  seconds: { type: 'string' },
  'max-minutes': { type: 'string' },
  quick: { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A benchmark's entry point: parse (null = help printed), run, print the report. A bad option is
 * exit code 2 with a one-line message; a finished run is 0.
 */
export const benchMain = async <O, R>(
  name: string,
  argv: string[],
  parse: (argv: string[]) => O | null,
  run: (options: O) => Promise<R>,
  report: (options: O, result: R) => string,
): Promise<number> => {
  let options: O | null;
  try {
    options = parse(argv);
  } catch (err) {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)} (--help lists the options)\n`);
    return 2;
  }
  if (options === null) {
    return 0;
  }
  const result = await run(options);
  process.stdout.write(report(options, result));
  return 0;
};

/** The frame window the players count over: publisher sequence numbers of video and audio. */
export interface FrameWindow {
  videoStart: number;
  videoEnd: number;
  audioStart: number;
  audioEnd: number;
}

/**
 * After `drainSeconds` for frames still in flight, every player process reports what it got of
 * `window`; returns the reports and their latencies merged into one histogram.
 */
export const collectReports = async (
  procs: PlayerProcess[],
  window: FrameWindow,
  drainSeconds: number,
): Promise<{ reports: ReportEvent[]; histogram: LatencyHistogram }> => {
  await sleep(drainSeconds * 1000);
  const reports = await Promise.all(
    procs.map((p) => {
      p.send({ cmd: 'report', ...window });
      return p.next<ReportEvent>('report', 30_000);
    }),
  );
  const histogram = new LatencyHistogram();
  for (const r of reports) {
    histogram.merge(LatencyHistogram.fromSparse(r.histogram, r.latencyMax, r.latencySum));
  }
  return { reports, histogram };
};

/** What every benchmark run starts with: cleanup of children on exit, a stale-build warning, the clock and the machine. */
export const startRun = (log: (line: string) => void): { startedAt: Date; began: number; machine: MachineInfo } => {
  installCleanup();
  if (process.env.BENCH_NIMBUS_CLI === undefined && distIsStale()) {
    log('warning: dist/ is older than src/ (or missing): run `npm run build` first, Nimbus runs from dist/');
  }
  return { startedAt: new Date(), began: performance.now(), machine: machineInfo() };
};

/**
 * The warm-up before a measurement window: the players' logs are armed a second before the
 * window, since a busy player process may read its sockets before the IPC pipe (the window's
 * frames are then chosen by sequence number, not by arrival).
 */
export const warmUpAndArm = async (procs: readonly PlayerProcess[], warmupSeconds: number): Promise<void> => {
  await sleep(Math.max(0, warmupSeconds - 1) * 1000);
  for (const p of procs) {
    p.send({ cmd: 'arm' });
  }
  await sleep(Math.min(1, warmupSeconds) * 1000);
};

/** A server process as the benchmarks hold it: stopped at the end of a trial. */
interface StoppableServer {
  stop(): Promise<string>;
  output(): string;
}

/**
 * The end of every trial: publisher, player processes and publisher connection stopped, then the
 * servers (in the order given); a server that did not exit cleanly has its last output printed.
 */
export const endTrial = async (
  publisher: { stop(): void } | null,
  procs: readonly PlayerProcess[],
  publisherClient: { close(): void },
  servers: ReadonlyArray<{ label: string; server: StoppableServer }>,
): Promise<void> => {
  publisher?.stop();
  await Promise.all(procs.map((p) => p.stop()));
  publisherClient.close();
  for (const { label, server } of servers) {
    const how = await server.stop();
    if (how !== '0' && how !== 'SIGTERM') {
      process.stderr.write(`${label} exited with ${how}; last output:\n${server.output().slice(-2000)}\n`);
    }
  }
};
