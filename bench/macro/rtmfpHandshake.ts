/**
 * Macro benchmark: RTMFP handshake rate. Load processes (bench/lib/handshakeProcess.ts) run
 * handshakes back to back on `--lanes` sockets (each lane one at a time, a fresh identity and DH key
 * each time), bounded by `--count` and `--seconds`, against Nimbus in several arms (kernels ×
 * RTMFP.workers), each in a fresh server process. Reports handshakes per second, server CPU per
 * handshake (the server process's utime+stime from /proc; DH pool and media worker threads are in
 * it), the handshakes per second one core of server CPU gives, and the handshake latency.
 *
 *   node --import tsx bench/macro/rtmfpHandshake.ts [--quick] [--count=2000] [--lanes=16] [--arms=native:0,native:2]
 *   (or: npm run bench -- rtmfpHandshake)
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchMain, commonOptions, LoadProcess, machineLine, nativeUnavailable, nimbusBuild, nimbusLine, numberOption, split, startRun, writeResult } from '../lib/common.js';
import type { HandshakeCommand, HandshakeDone, HandshakeEvent } from '../lib/handshakeProcess.js';
import { type MachineInfo, machineInfo, readCpuSeconds, readMachineCpu, readThreadCpuSeconds, repoRoot, sleep, startServer } from '../lib/proc.js';
import { LatencyHistogram, fmt, formatTable } from '../lib/stats.js';
import type { Arm } from './rtmfpFanout.js';

export interface HandshakeOptions {
  arms: Arm[];
  mode: 'handshake' | 'connect';
  count: number;
  seconds: number;
  lanes: number;
  loadProcesses: number;
  timeoutMs: number;
  profile: boolean;
  outDir: string;
}

const usage = `rtmfpHandshake: RTMFP handshakes per second and server CPU per handshake.

  --arms=LIST           kernels:workers pairs (default native:0,native:2,ts:0); native arms are skipped
                        with a note when the addon is not built
  --mode=M              handshake (default: IHello → RIKeying, then close) or connect (a whole
                        RtmfpClient.connect: handshake + NetConnection connect, then close)
  --count=N             at most N handshakes per arm (default 3000)
  --seconds=S           at most S seconds of handshakes per arm (default 10)
  --lanes=L             handshakes in flight, all load processes together (default 16: the server
                        computes at most 16 DH at once and drops the rest, which the clients retry)
  --load-procs=P        load processes (default 1)
  --timeout=MS          one handshake gives up after MS (default 10000)
  --profile             run the server with --cpu-prof (profiles in bench/results/profiles/)
  --quick               smoke run: --arms=native:0 --count=200 --seconds=3
  --out=DIR             JSON results folder (default bench/results)
`;

export const parseHandshakeArgs = (argv: string[]): HandshakeOptions | null => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...commonOptions,
      arms: { type: 'string' },
      mode: { type: 'string' },
      count: { type: 'string' },
      lanes: { type: 'string' },
      'load-procs': { type: 'string' },
      timeout: { type: 'string' },
      profile: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return null;
  }
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const arms = (values.arms ?? (quick ? 'native:0' : 'native:0,native:2,ts:0')).split(',').map((a): Arm => {
    const [k, w] = a.trim().split(':');
    if ((k !== 'ts' && k !== 'native') || w === undefined) {
      throw new Error(`--arms: "${a}" is not kernels:workers (ts:0, native:2...)`);
    }
    return { kernels: k, workers: Math.round(numberOption('arms', w, 0, 0, 64)) };
  });
  const mode = values.mode ?? 'handshake';
  if (mode !== 'handshake' && mode !== 'connect') {
    throw new Error(`--mode=${mode}: handshake or connect`);
  }
  return {
    arms,
    mode,
    count: Math.round(numberOption('count', values.count, quick ? 200 : 3000, 1, 100_000)),
    seconds: numberOption('seconds', values.seconds, quick ? 3 : 10, 1, 120),
    lanes: Math.round(numberOption('lanes', values.lanes, 16, 1, 512)),
    loadProcesses: Math.round(numberOption('load-procs', values['load-procs'], 1, 1, 8)),
    timeoutMs: numberOption('timeout', values.timeout, 10_000, 100, 60_000),
    profile: values.profile === true,
    outDir: values.out ?? `${repoRoot}bench/results`,
  };
};

export interface HandshakeTrial {
  arm: string;
  kernels: Arm['kernels'];
  workers: number;
  started: number;
  completed: number;
  failed: number;
  errors: string[];
  seconds: number;
  perSecond: number;
  serverCpuSeconds: number;
  serverCpuPercent: number;
  mainThreadPercent: number;
  cpuMsPerHandshake: number;
  /** Handshakes one core of server CPU completes per second (completed ÷ server CPU seconds). */
  perCoreSecond: number;
  loadCpuPercent: number;
  machineCpuPercent: number;
  rssGrowthKiB: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  error?: string;
}

const runTrial = async (o: HandshakeOptions, arm: Arm): Promise<HandshakeTrial> => {
  const name = `${arm.kernels} w${arm.workers}`;
  // A folder per trial, no --cpu-prof-name: each thread (main, media workers, DH pool) writes its own file.
  const nodeArgs = o.profile ? ['--cpu-prof', `--cpu-prof-dir=${o.outDir}/profiles/handshake-${arm.kernels}-w${arm.workers}-${Date.now()}`] : [];
  const server = await startServer('nimbus', {
    nodeArgs,
    rtmfpOnly: true,
    args: [`--RTMFP.workers=${arm.workers}`],
    env: { NIMBUS_NO_NATIVE: arm.kernels === 'ts' ? '1' : undefined },
    ready: arm.workers > 0 ? new RegExp(`media worker ${arm.workers - 1}\\)`) : /nimbus listening: RTMFP/,
  });
  const procs: Array<LoadProcess<HandshakeCommand, HandshakeEvent>> = [];
  try {
    await sleep(500);
    const rss0 = server.rssKiB();
    const lanes = split(o.lanes, o.loadProcesses);
    const counts = split(o.count, lanes.length);
    for (let i = 0; i < lanes.length; i++) {
      procs.push(new LoadProcess<HandshakeCommand, HandshakeEvent>(new URL('../lib/handshakeProcess.ts', import.meta.url), { NIMBUS_NO_NATIVE: undefined }));
    }
    // Let the load processes load their modules before the clock starts.
    await sleep(1500);
    const t0 = performance.now();
    const cpu0 = server.cpu();
    const main0 = readThreadCpuSeconds(server.pid, server.pid);
    const machine0 = readMachineCpu();
    const load0 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    procs.forEach((p, i) =>
      p.send({
        cmd: 'start',
        url: `rtmfp://127.0.0.1:${server.port}/live`,
        mode: o.mode,
        lanes: lanes[i],
        count: counts[i] ?? 0,
        seconds: o.seconds,
        timeoutMs: o.timeoutMs,
        maxLifetimeMs: (o.seconds + 60) * 1000 + o.timeoutMs,
      }),
    );
    const dones = await Promise.all(procs.map((p) => p.next<HandshakeDone>('done', (o.seconds + 30) * 1000 + o.timeoutMs)));
    const t1 = performance.now();
    const cpu1 = server.cpu();
    const main1 = readThreadCpuSeconds(server.pid, server.pid);
    const machine1 = readMachineCpu();
    const load1 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    const rss1 = server.rssKiB();
    const seconds = (t1 - t0) / 1000;
    const histogram = new LatencyHistogram();
    for (const d of dones) {
      histogram.merge(LatencyHistogram.fromSparse(d.histogram, d.latencyMax, d.latencySum));
    }
    const completed = dones.reduce((a, d) => a + d.completed, 0);
    const serverCpu = cpu1.user + cpu1.system - (cpu0.user + cpu0.system);
    return {
      arm: name,
      kernels: arm.kernels,
      workers: arm.workers,
      started: dones.reduce((a, d) => a + d.started, 0),
      completed,
      failed: dones.reduce((a, d) => a + d.failed, 0),
      errors: dones.flatMap((d) => d.errors).slice(0, 5),
      seconds,
      perSecond: completed / seconds,
      serverCpuSeconds: serverCpu,
      serverCpuPercent: (serverCpu / seconds) * 100,
      mainThreadPercent: ((main1 - main0) / seconds) * 100,
      cpuMsPerHandshake: completed > 0 ? (serverCpu * 1000) / completed : Number.NaN,
      perCoreSecond: serverCpu > 0 ? completed / serverCpu : Number.NaN,
      loadCpuPercent: ((load1 - load0) / seconds) * 100,
      machineCpuPercent: ((machine1.busy - machine0.busy) / seconds) * 100,
      rssGrowthKiB: rss1 - rss0,
      latencyP50: histogram.quantile(0.5),
      latencyP99: histogram.quantile(0.99),
      latencyMax: histogram.max,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    const how = await server.stop();
    if (how !== '0' && how !== 'SIGTERM') {
      process.stderr.write(`nimbus (${name}) exited with ${how}; last output:\n${server.output().slice(-2000)}\n`);
    }
  }
};

const pct = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '-');

export const renderHandshake = (o: HandshakeOptions, trials: HandshakeTrial[]): string =>
  [
    formatTable(
      ['arm', 'started', 'done', 'failed', 'seconds', 'per s', 'srv cpu', 'main thr', 'cpu ms/hs', 'hs per core·s', 'p50 ms', 'p99 ms', 'rss +KiB', 'loadgen', 'box'],
      trials.map((t) => [
        t.arm,
        t.started,
        t.completed,
        t.failed,
        fmt(t.seconds, 1),
        fmt(t.perSecond, 0),
        pct(t.serverCpuPercent),
        pct(t.mainThreadPercent),
        fmt(t.cpuMsPerHandshake, 3),
        fmt(t.perCoreSecond, 0),
        fmt(t.latencyP50, 1),
        fmt(t.latencyP99, 1),
        fmt(t.rssGrowthKiB, 0),
        pct(t.loadCpuPercent),
        pct(t.machineCpuPercent),
      ]),
    ),
    '',
    `mode ${o.mode}: ${o.mode === 'handshake' ? 'IHello (→ Redirect to a media worker when there are workers) → RHello → IIKeying (fresh identity, DH group 2) → RIKeying, then 0x0C close' : 'RtmfpClient.connect (handshake + NetConnection connect _result), then close'}; ${o.lanes} in flight.`,
    'per s = handshakes completed per second of wall clock; cpu ms/hs = server CPU (all threads) per completed handshake; hs per core·s = completed ÷ server CPU seconds (what one',
    'core of server CPU gives); main thr = main thread CPU (% of one core); loadgen = load process CPU (% of one core: the client does its own DH, as much work as the server\'s);',
    'box = whole machine busy (2 cores = 200 %). With the load generator on the same 2 cores, per s is bounded by the machine; cpu ms/hs is the figure to compare.',
  ].join('\n');

export interface HandshakeRun {
  benchmark: 'rtmfpHandshake';
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  machineAtEnd: MachineInfo;
  options: HandshakeOptions;
  nimbus: ReturnType<typeof nimbusBuild>;
  skipped: string[];
  trials: HandshakeTrial[];
  resultFile: string;
}

export const runHandshake = async (o: HandshakeOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<HandshakeRun> => {
  const { startedAt, began, machine } = startRun(log);
  const skipped: string[] = [];
  let arms = o.arms;
  const noNative = nativeUnavailable();
  if (noNative !== null && arms.some((a) => a.kernels === 'native')) {
    skipped.push(`native arms skipped: ${noNative}`);
    log(skipped[0]);
    arms = arms.filter((a) => a.kernels !== 'native');
  }
  log(`rtmfpHandshake: mode ${o.mode}, at most ${o.count} handshakes or ${o.seconds} s per arm, ${o.lanes} in flight, arms ${arms.map((a) => `${a.kernels} w${a.workers}`).join(', ')}`);
  const trials: HandshakeTrial[] = [];
  for (const arm of arms) {
    let t: HandshakeTrial;
    try {
      t = await runTrial(o, arm);
    } catch (err) {
      t = {
        arm: `${arm.kernels} w${arm.workers}`, kernels: arm.kernels, workers: arm.workers, started: 0, completed: 0, failed: 0, errors: [], seconds: 0,
        perSecond: Number.NaN, serverCpuSeconds: 0, serverCpuPercent: Number.NaN, mainThreadPercent: Number.NaN, cpuMsPerHandshake: Number.NaN,
        perCoreSecond: Number.NaN, loadCpuPercent: Number.NaN, machineCpuPercent: Number.NaN, rssGrowthKiB: Number.NaN, latencyP50: Number.NaN,
        latencyP99: Number.NaN, latencyMax: Number.NaN, error: err instanceof Error ? err.message : String(err),
      };
    }
    trials.push(t);
    log(
      `  ${t.arm.padEnd(9)}: ${t.error ?? `${t.completed}/${t.started} in ${fmt(t.seconds, 1)} s = ${fmt(t.perSecond, 0)}/s, server ${pct(t.serverCpuPercent)} (main ${pct(t.mainThreadPercent)}) → ${fmt(t.cpuMsPerHandshake, 3)} ms CPU per handshake, ${fmt(t.perCoreSecond, 0)} per core-second; p50 ${fmt(t.latencyP50, 1)} ms p99 ${fmt(t.latencyP99, 1)} ms; loadgen ${pct(t.loadCpuPercent)}${t.failed > 0 ? `; ${t.failed} failed (${t.errors[0]})` : ''}`}`,
    );
  }
  const run: Omit<HandshakeRun, 'resultFile'> = {
    benchmark: 'rtmfpHandshake',
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - began) / 1000),
    machine,
    machineAtEnd: machineInfo(),
    options: { ...o, arms },
    nimbus: nimbusBuild(),
    skipped,
    trials,
  };
  return { ...run, resultFile: writeResult(o.outDir, 'rtmfpHandshake', startedAt, run) };
};

export const main = (argv: string[]): Promise<number> =>
  benchMain('rtmfpHandshake', argv, parseHandshakeArgs, runHandshake, (o, run) => {
    const parts: string[] = [];
    parts.push(
      `\n${machineLine('rtmfpHandshake', run.machine, run.machineAtEnd, run.durationSeconds)}\n` +
        `${nimbusLine(run.nimbus)}${run.skipped.map((s) => `; ${s}`).join('')}\n\n`,
    );
    parts.push(`${renderHandshake(run.options, run.trials)}\n\nJSON: ${run.resultFile}\n`);
    return parts.join('');
  });

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
