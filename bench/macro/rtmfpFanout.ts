/**
 * Macro benchmark: RTMFP fan-out. One publisher at ~1 Mbit/s (bench/lib/stream.ts; an RtmfpClient
 * by default, or an RtmpClient), N RTMFP subscribers (RtmfpClient light mode, one UDP socket each)
 * in a separate player process, against Nimbus in several arms in the same run: the TS kernels
 * (NIMBUS_NO_NATIVE=1) or the native ones, and RTMFP.workers=0 (everything on the main thread) or
 * N media worker threads. Each trial starts the server fresh in its own process.
 *
 * Reports server CPU per subscriber-second (the server process's utime+stime from /proc: its worker
 * threads are in it) and the subscribers per core that implies, delivered/expected frames and the
 * frames lost (RTMFP media is unreliable, with deadlines: a late frame is abandoned, not resent),
 * server memory per session (RSS growth, and the live heap after a forced GC in the server: see
 * lib/heapProbe.ts), and latency p50/p99 (publisher write → subscriber receive).
 *
 *   node --import tsx bench/macro/rtmfpFanout.ts [--quick] [--subscribers=100,300] [--arms=ts:0,native:2] ...
 *   (or: npm run bench -- rtmfpFanout --quick)
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { benchMain, collectReports, commonOptions, PlayerProcess, machineLine, median, nativeUnavailable, nimbusBuild, nimbusLine, numberOption, split, startRun, writeResult, endTrial, warmUpAndArm } from '../lib/common.js';
import type { ReadyEvent } from '../lib/playerIpc.js';
import { type MachineInfo, type ServerHandle, busiestThreads, machineInfo, readCpuSeconds, readMachineCpu, readThreadCpuSeconds, readThreadsCpu, readUdpCounters, readUdpDrops, repoRoot, sleep, startServer, withTimeout } from '../lib/proc.js';
import { type ServerMemory, memProbeNodeArgs, readServerMemory } from '../lib/heapProbe.js';
import { fmt, formatTable } from '../lib/stats.js';
import { StreamPublisher, defaultProfile, frameSizes, type StreamProfile } from '../lib/stream.js';

export interface Arm {
  kernels: 'ts' | 'native';
  workers: number;
}

const armName = (a: Arm): string => `${a.kernels} w${a.workers}`;

export interface RtmfpFanoutOptions {
  subscribers: number[];
  arms: Arm[];
  seconds: number;
  warmup: number;
  drain: number;
  kbps: number;
  publisher: 'rtmfp' | 'rtmp';
  playerProcesses: number;
  concurrency: number;
  minDelivery: number;
  latencyLimitMs: number;
  maxMinutes: number;
  profile: boolean;
  /** Measure the server's live heap (forced GC in the server, benchmark-only probe). */
  heapProbe: boolean;
  /** Extra node options for the server (e.g. --max-semi-space-size=1). */
  serverNodeArgs: string[];
  outDir: string;
}

const usage = `rtmfpFanout: one ~1 Mbit/s publisher, N RTMFP subscribers; Nimbus TS vs native kernels, RTMFP.workers 0 vs N.

  --subscribers=LIST    subscriber counts (default 100,200,400; env BENCH_SUBSCRIBERS)
  --arms=LIST           kernels:workers pairs (default ts:0,native:0,ts:2,native:2); native arms are
                        skipped with a note when the addon is not built (npm run build:native)
  --seconds=S           measurement window per trial (default 10)
  --warmup=S            after the subscribers joined, before measuring (default 3)
  --drain=S             after the window, for frames in flight (default 2)
  --kbps=K              stream bitrate (default 1000)
  --publisher=P         rtmfp (default) or rtmp (cross-protocol: RTMP in, RTMFP out)
  --player-procs=P      subscriber processes (default 1)
  --concurrency=C       subscribers handshaking at once (default 16)
  --min-delivery=R      kept up: delivered/expected at least R (default 0.99)
  --latency-limit=MS    kept up: latency p99 under MS (default 1000)
  --max-minutes=M       skip the trials that would not end within M minutes (default 10)
  --profile             run the server with --cpu-prof (profiles in bench/results/profiles/)
  --no-heap-probe       do not measure the server's live heap (by default the server runs with
                        --expose-gc and bench/lib/memProbe.mjs: a forced GC before the players join
                        and after the window, each a pause of tens of ms)
  --server-node-args=A  extra node options for the server, space-separated (e.g. --max-semi-space-size=1)
  --quick               smoke run: --subscribers=20 --arms=ts:0,native:2 --seconds=2 --warmup=1 --drain=1
  --out=DIR             JSON results folder (default bench/results)
`;

export const parseRtmfpFanoutArgs = (argv: string[]): RtmfpFanoutOptions | null => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      subscribers: { type: 'string' },
      players: { type: 'string' },
      arms: { type: 'string' },
      ...commonOptions,
      warmup: { type: 'string' },
      drain: { type: 'string' },
      kbps: { type: 'string' },
      publisher: { type: 'string' },
      'player-procs': { type: 'string' },
      concurrency: { type: 'string' },
      'min-delivery': { type: 'string' },
      'latency-limit': { type: 'string' },
      profile: { type: 'boolean' },
      'no-heap-probe': { type: 'boolean' },
      'server-node-args': { type: 'string' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return null;
  }
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const subsRaw = values.subscribers ?? values.players ?? process.env.BENCH_SUBSCRIBERS ?? (quick ? '20' : '100,200,400');
  const subscribers = subsRaw.split(',').map((s) => Math.round(numberOption('subscribers', s.trim(), 0, 1, 5000)));
  const arms = (values.arms ?? (quick ? 'ts:0,native:2' : 'ts:0,native:0,ts:2,native:2')).split(',').map((a): Arm => {
    const [k, w] = a.trim().split(':');
    if ((k !== 'ts' && k !== 'native') || w === undefined) {
      throw new Error(`--arms: "${a}" is not kernels:workers (ts:0, native:2...)`);
    }
    return { kernels: k, workers: Math.round(numberOption('arms', w, 0, 0, 64)) };
  });
  const publisher = values.publisher ?? 'rtmfp';
  if (publisher !== 'rtmfp' && publisher !== 'rtmp') {
    throw new Error(`--publisher=${publisher}: rtmfp or rtmp`);
  }
  return {
    subscribers: [...new Set(subscribers)].sort((a, b) => a - b),
    arms,
    seconds: numberOption('seconds', values.seconds ?? process.env.BENCH_SECONDS, quick ? 2 : 10, 1, 120),
    warmup: numberOption('warmup', values.warmup, quick ? 1 : 3, 0, 60),
    drain: numberOption('drain', values.drain, quick ? 1 : 2, 0.5, 30),
    kbps: numberOption('kbps', values.kbps, 1000, 50, 50_000),
    publisher,
    playerProcesses: Math.round(numberOption('player-procs', values['player-procs'], 1, 1, 8)),
    concurrency: Math.round(numberOption('concurrency', values.concurrency, 16, 1, 512)),
    minDelivery: numberOption('min-delivery', values['min-delivery'], 0.99, 0, 1),
    latencyLimitMs: numberOption('latency-limit', values['latency-limit'], 1000, 1, 60_000),
    maxMinutes: numberOption('max-minutes', values['max-minutes'], 10, 0.5, 120),
    profile: values.profile === true,
    heapProbe: values['no-heap-probe'] !== true,
    serverNodeArgs: (values['server-node-args'] ?? '').split(' ').filter((a) => a !== ''),
    outDir: values.out ?? `${repoRoot}bench/results`,
  };
};

export interface RtmfpTrial {
  arm: string;
  kernels: Arm['kernels'];
  workers: number;
  subscribers: number;
  connected: number;
  connectFailures: string[];
  joinSeconds: number;
  measuredSeconds: number;
  serverCpuSeconds: number;
  /** Server CPU over the window, % of one core (all its threads), and the main thread's part of it. */
  serverCpuPercent: number;
  mainThreadPercent: number;
  /** The two busiest threads other than the main one (the media workers with 2), % of one core. */
  threadPercents: number[];
  serverSystemShare: number;
  /** Server CPU milliseconds per subscriber-second, and the subscribers one core would serve at that cost. */
  cpuMsPerSubscriberSecond: number;
  subscribersPerCore: number;
  cpuUsPerFrame: number;
  machineCpuPercent: number;
  playerCpuPercent: number;
  publisherFrames: number;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  lost: number;
  maxLostPerSubscriber: number;
  subscribersWithLoss: number;
  rssBaseKiB: number;
  rssEndKiB: number;
  memKiBPerSession: number;
  /**
   * Live heap (heapUsed after a forced GC, all threads of the server together) before the
   * subscribers joined and after the window, its growth per subscriber, and the same for external
   * memory (native keys, Buffers' backing stores) and for the heap V8 reserved (heapTotal). NaN
   * without the probe.
   */
  heapBaseKiB: number;
  heapEndKiB: number;
  heapKiBPerSession: number;
  externalKiBPerSession: number;
  heapTotalKiBPerSession: number;
  /** New space (young generation) of all threads at the end, KiB: garbage room that RSS counts. */
  newSpaceEndKiB: number;
  /** The probe's two readings, per thread (JSON only). */
  memoryProbe?: { base: ServerMemory; end: ServerMemory };
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  latencyP50First: number;
  latencyP50Last: number;
  /**
   * UDP datagrams dropped over the window for a full receive buffer: by the server's sockets (front
   * door and media workers: acks from the subscribers), and by every other socket of the machine
   * (the subscribers': media; /proc/net/snmp RcvbufErrors minus the server's).
   */
  serverUdpDrops: number;
  clientUdpDrops: number;
  /** UDP datagrams sent over the window by the whole machine, per second. */
  udpOutPerSecond: number;
  closedDuringRun: number;
  closeReasons: string[];
  keptUp: boolean;
  loadgenBound: boolean;
  error?: string;
}

const readyTimeoutMs = (n: number): number => 60_000 + n * 100;
const trialBudgetSeconds = (o: RtmfpFanoutOptions, n: number): number => 5 + n / 50 + o.warmup + o.seconds + o.drain;

const runTrial = async (o: RtmfpFanoutOptions, arm: Arm, n: number, profile: StreamProfile): Promise<RtmfpTrial> => {
  // A folder per trial, no --cpu-prof-name: each thread (main, media workers, DH pool) writes its own file.
  const nodeArgs = [
    ...o.serverNodeArgs,
    ...(o.heapProbe ? memProbeNodeArgs() : []),
    ...(o.profile ? ['--cpu-prof', `--cpu-prof-dir=${o.outDir}/profiles/rtmfp-${arm.kernels}-w${arm.workers}-${n}-${Date.now()}`] : []),
  ];
  const server: ServerHandle = await startServer('nimbus', {
    nodeArgs,
    rtmfp: true,
    args: [`--RTMFP.workers=${arm.workers}`],
    env: { NIMBUS_NO_NATIVE: arm.kernels === 'ts' ? '1' : undefined },
    ready: arm.workers > 0 ? new RegExp(`media worker ${arm.workers - 1}\\)`) : /nimbus listening: RTMFP/,
  });
  const stream = 'bench';
  const procs: PlayerProcess[] = [];
  const publisherClient = o.publisher === 'rtmfp' ? new RtmfpClient() : new RtmpClient();
  let publisher: StreamPublisher | null = null;
  try {
    await withTimeout(publisherClient.connect(`${o.publisher}://127.0.0.1:${server.port}/live`), 10_000, 'publisher connect');
    const streamId = await publisherClient.publish(stream);
    publisher = new StreamPublisher(publisherClient, streamId, profile, trialBudgetSeconds(o, n) * 1000 + readyTimeoutMs(n) + 30_000);
    publisher.start();
    await sleep(1000);
    const heapBase = o.heapProbe ? await readServerMemory(server) : null;
    const rssBase = server.rssKiB();
    for (const count of split(n, o.playerProcesses)) {
      // The subscribers use the native kernels when they load (a lighter load generator), whatever the arm.
      const p = new PlayerProcess({ NIMBUS_NO_NATIVE: undefined });
      procs.push(p);
      p.send({
        cmd: 'start',
        protocol: 'rtmfp',
        url: `rtmfp://127.0.0.1:${server.port}/live`,
        stream,
        players: count,
        concurrency: Math.max(1, Math.round(o.concurrency / o.playerProcesses)),
        connectTimeoutMs: 20_000,
        maxLifetimeMs: (trialBudgetSeconds(o, n) + 60) * 1000 + readyTimeoutMs(n),
        logCapacity: Math.ceil(count * (profile.fps + profile.audioFps) * (1 + o.seconds + o.drain + 2) * 1.5),
      });
    }
    const readies: ReadyEvent[] = await Promise.all(procs.map((p) => p.next<ReadyEvent>('ready', readyTimeoutMs(n))));
    const connected = readies.reduce((a, r) => a + r.connected, 0);
    await warmUpAndArm(procs, o.warmup);

    const serverPorts = [server.port, ...[...server.output().matchAll(/RTMFP [\d.]+:(\d+)\/udp \(media worker/g)].map((m) => Number(m[1]))];
    const videoStart = publisher.videoSeq;
    const audioStart = publisher.audioSeq;
    const t0 = performance.now();
    const udp0 = readUdpCounters();
    const drops0 = readUdpDrops(serverPorts);
    const cpu0 = server.cpu();
    const main0 = readThreadCpuSeconds(server.pid, server.pid);
    const threads0 = readThreadsCpu(server.pid);
    const machine0 = readMachineCpu();
    const playerCpu0 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    await sleep(o.seconds * 1000);
    const videoEnd = publisher.videoSeq;
    const audioEnd = publisher.audioSeq;
    const cpu1 = server.cpu();
    const udp1 = readUdpCounters();
    const drops1 = readUdpDrops(serverPorts);
    const main1 = readThreadCpuSeconds(server.pid, server.pid);
    const threads1 = readThreadsCpu(server.pid);
    const machine1 = readMachineCpu();
    const playerCpu1 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    const t1 = performance.now();
    const rssEnd = server.rssKiB();
    // After the RSS reading: the forced GC must not shrink what RSS shows.
    const heapEnd = o.heapProbe ? await readServerMemory(server) : null;

    const { reports, histogram } = await collectReports(procs, { videoStart, videoEnd, audioStart, audioEnd }, o.drain);
    const seconds = (t1 - t0) / 1000;
    const publisherFrames = videoEnd - videoStart + (audioEnd - audioStart);
    const expected = publisherFrames * n;
    const delivered = reports.reduce((a, r) => a + r.delivered, 0);
    const serverCpu = cpu1.user + cpu1.system - (cpu0.user + cpu0.system);
    const deliveredRatio = expected === 0 ? 0 : delivered / expected;
    const latencyP99 = histogram.quantile(0.99);
    const playerCpuPercent = ((playerCpu1 - playerCpu0) / seconds / o.playerProcesses) * 100;
    const subscriberSeconds = connected * seconds;
    const overflow = reports.reduce((a, r) => a + r.overflow, 0);
    return {
      arm: armName(arm),
      kernels: arm.kernels,
      workers: arm.workers,
      subscribers: n,
      connected,
      connectFailures: readies.flatMap((r) => r.errors),
      joinSeconds: Math.max(...readies.map((r) => r.connectMs)) / 1000,
      measuredSeconds: seconds,
      serverCpuSeconds: serverCpu,
      serverCpuPercent: (serverCpu / seconds) * 100,
      mainThreadPercent: ((main1 - main0) / seconds) * 100,
      threadPercents: busiestThreads(server.pid, threads0, threads1, seconds, 2),
      serverSystemShare: serverCpu > 0 ? (cpu1.system - cpu0.system) / serverCpu : Number.NaN,
      cpuMsPerSubscriberSecond: subscriberSeconds > 0 ? (serverCpu * 1000) / subscriberSeconds : Number.NaN,
      subscribersPerCore: serverCpu > 0 ? subscriberSeconds / serverCpu : Number.NaN,
      cpuUsPerFrame: delivered === 0 ? Number.NaN : (serverCpu * 1e6) / delivered,
      machineCpuPercent: ((machine1.busy - machine0.busy) / seconds) * 100,
      playerCpuPercent,
      publisherFrames,
      expected,
      delivered,
      deliveredRatio,
      lost: Math.max(0, expected - delivered),
      maxLostPerSubscriber: Math.max(...reports.map((r) => r.maxLostPerPlayer)),
      subscribersWithLoss: reports.reduce((a, r) => a + r.playersWithLoss, 0),
      rssBaseKiB: rssBase,
      rssEndKiB: rssEnd,
      memKiBPerSession: (rssEnd - rssBase) / n,
      heapBaseKiB: heapBase?.heapUsedKiB ?? Number.NaN,
      heapEndKiB: heapEnd?.heapUsedKiB ?? Number.NaN,
      heapKiBPerSession: heapBase !== null && heapEnd !== null ? (heapEnd.heapUsedKiB - heapBase.heapUsedKiB) / n : Number.NaN,
      externalKiBPerSession: heapBase !== null && heapEnd !== null ? (heapEnd.externalKiB - heapBase.externalKiB) / n : Number.NaN,
      heapTotalKiBPerSession: heapBase !== null && heapEnd !== null ? (heapEnd.heapTotalKiB - heapBase.heapTotalKiB) / n : Number.NaN,
      newSpaceEndKiB: heapEnd?.newSpaceKiB ?? Number.NaN,
      ...(heapBase !== null && heapEnd !== null ? { memoryProbe: { base: heapBase, end: heapEnd } } : {}),
      latencyP50: histogram.quantile(0.5),
      latencyP99,
      latencyMax: histogram.max,
      latencyP50First: median(reports.map((r) => r.latencyP50First)),
      latencyP50Last: median(reports.map((r) => r.latencyP50Last)),
      serverUdpDrops: drops1 - drops0,
      clientUdpDrops: udp1.rcvbufErrors - udp0.rcvbufErrors - (drops1 - drops0),
      udpOutPerSecond: (udp1.outDatagrams - udp0.outDatagrams) / seconds,
      closedDuringRun: reports.reduce((a, r) => a + r.closed, 0),
      closeReasons: reports.flatMap((r) => r.closeReasons),
      keptUp: connected === n && deliveredRatio >= o.minDelivery && latencyP99 < o.latencyLimitMs,
      loadgenBound: playerCpuPercent > 90,
      ...(overflow > 0 ? { error: `player log overflow (${overflow} receipts not logged): the numbers are incomplete` } : {}),
    };
  } finally {
    await endTrial(publisher, procs, publisherClient, [{ label: `nimbus (${armName(arm)})`, server }]);
  }
};

const failedTrial = (arm: Arm, n: number, err: unknown): RtmfpTrial => ({
  arm: armName(arm), kernels: arm.kernels, workers: arm.workers, subscribers: n, connected: 0, connectFailures: [], joinSeconds: Number.NaN,
  measuredSeconds: 0, serverCpuSeconds: 0, serverCpuPercent: Number.NaN, mainThreadPercent: Number.NaN, threadPercents: [], serverSystemShare: Number.NaN,
  cpuMsPerSubscriberSecond: Number.NaN, subscribersPerCore: Number.NaN, cpuUsPerFrame: Number.NaN, machineCpuPercent: Number.NaN,
  playerCpuPercent: Number.NaN, publisherFrames: 0, expected: 0, delivered: 0, deliveredRatio: 0, lost: 0, maxLostPerSubscriber: Number.NaN,
  subscribersWithLoss: n, rssBaseKiB: 0, rssEndKiB: 0, memKiBPerSession: Number.NaN, heapBaseKiB: Number.NaN, heapEndKiB: Number.NaN,
  heapKiBPerSession: Number.NaN, externalKiBPerSession: Number.NaN, heapTotalKiBPerSession: Number.NaN, newSpaceEndKiB: Number.NaN, latencyP50: Number.NaN, latencyP99: Number.NaN,
  latencyMax: Number.NaN, latencyP50First: Number.NaN, latencyP50Last: Number.NaN, serverUdpDrops: Number.NaN, clientUdpDrops: Number.NaN,
  udpOutPerSecond: Number.NaN, closedDuringRun: 0, closeReasons: [], keptUp: false,
  loadgenBound: false, error: err instanceof Error ? err.message : String(err),
});

const pct = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '-');

export const renderRtmfpFanout = (o: RtmfpFanoutOptions, trials: RtmfpTrial[]): string => {
  const rows = trials.map((t) => [
    t.arm,
    t.subscribers,
    t.error !== undefined && t.connected === 0 ? 'error' : t.connected,
    fmt(t.deliveredRatio, 4),
    t.lost,
    fmt(t.maxLostPerSubscriber, 0),
    fmt(t.cpuMsPerSubscriberSecond, 3),
    fmt(t.subscribersPerCore, 0),
    fmt(t.cpuUsPerFrame, 1),
    pct(t.serverCpuPercent),
    pct(t.mainThreadPercent),
    t.threadPercents.map((p) => pct(p)).join(' '),
    fmt(t.memKiBPerSession, 1),
    fmt(t.heapKiBPerSession, 1),
    fmt(t.externalKiBPerSession, 1),
    fmt(t.latencyP50, 1),
    fmt(t.latencyP99, 1),
    `${fmt(t.latencyP50First, 0)}→${fmt(t.latencyP50Last, 0)}`,
    `${fmt(t.serverUdpDrops, 0)}/${fmt(t.clientUdpDrops, 0)}`,
    fmt(t.joinSeconds, 1),
    `${pct(t.playerCpuPercent)}${t.loadgenBound ? '!' : ''}`,
    t.keptUp ? 'yes' : 'NO',
  ]);
  // Per arm: subscribers per core at the largest N it kept up at (the least fixed-cost-dominated figure).
  const best = [...new Set(trials.map((t) => t.arm))].map((arm) => {
    const ok = trials.filter((t) => t.arm === arm && t.keptUp).sort((a, b) => b.subscribers - a.subscribers)[0];
    return ok === undefined
      ? `${arm}: kept up at no N`
      : `${arm}: ${fmt(ok.subscribersPerCore, 0)} subscribers per core implied (at ${ok.subscribers}: ${fmt(ok.cpuMsPerSubscriberSecond, 3)} ms CPU per subscriber-second, ${fmt(ok.memKiBPerSession, 1)} KiB of RSS and ${fmt(ok.heapKiBPerSession, 1)} KiB of live heap per session)`;
  });
  // Memory per session at the margin: growth between the smallest and the largest N of an arm, so
  // that what does not grow with the sessions (a young generation grown to its maximum, JIT code,
  // the GOP cache, the DH pool's thread) is left out.
  const marginal = [...new Set(trials.map((t) => t.arm))].flatMap((arm) => {
    const ok = trials.filter((t) => t.arm === arm && t.connected > 0 && t.error === undefined).sort((a, b) => a.subscribers - b.subscribers);
    const lo = ok[0];
    const hi = ok[ok.length - 1];
    if (lo === undefined || hi === undefined || hi.subscribers === lo.subscribers) {
      return [];
    }
    const per = (f: (t: RtmfpTrial) => number): string => fmt((f(hi) - f(lo)) / (hi.subscribers - lo.subscribers), 1);
    return [
      `${arm}: at the margin from ${lo.subscribers} to ${hi.subscribers} subscribers, ${per((t) => t.rssEndKiB - t.rssBaseKiB)} KiB of RSS and ${per((t) => t.heapEndKiB - t.heapBaseKiB)} KiB of live heap per session`,
    ];
  });
  const ratio = (a: string, b: string): string[] =>
    o.subscribers.flatMap((n) => {
      const x = trials.find((t) => t.arm === a && t.subscribers === n);
      const y = trials.find((t) => t.arm === b && t.subscribers === n);
      return x !== undefined && y !== undefined && x.keptUp && y.keptUp ? [`${n}: ${fmt(x.cpuMsPerSubscriberSecond / y.cpuMsPerSubscriberSecond, 2)}`] : [];
    });
  const comparisons: string[] = [];
  for (const w of [...new Set(o.arms.map((a) => a.workers))]) {
    const r = ratio(`native w${w}`, `ts w${w}`);
    if (r.length > 0) {
      comparisons.push(`CPU per subscriber-second, native/ts with ${w} workers: ${r.join(', ')} (< 1: native cheaper)`);
    }
  }
  for (const k of ['ts', 'native']) {
    const ws = [...new Set(o.arms.filter((a) => a.kernels === k).map((a) => a.workers))].filter((w) => w > 0);
    for (const w of ws) {
      const r = ratio(`${k} w${w}`, `${k} w0`);
      if (r.length > 0) {
        comparisons.push(`CPU per subscriber-second, ${k} ${w} workers/0 workers: ${r.join(', ')} (< 1: the workers arm cheaper in total CPU)`);
      }
    }
  }
  return [
    formatTable(
      ['arm', 'subs', 'conn', 'deliv/exp', 'lost', 'max lost/sub', 'cpu ms/sub·s', 'subs/core', 'cpu µs/frame', 'srv cpu', 'main thr', 'threads', 'KiB/session', 'heap KiB/s', 'ext KiB/s', 'p50 ms', 'p99 ms', 'p50 trend', 'udp drops srv/cli', 'join s', 'loadgen', 'kept up'],
      rows,
    ),
    '',
    ...best,
    ...marginal,
    ...comparisons,
    `kept up = all subscribers joined, delivered/expected >= ${o.minDelivery} and latency p99 < ${o.latencyLimitMs} ms. frame = one audio or video message delivered to one subscriber.`,
    'arm = kernels (ts: NIMBUS_NO_NATIVE=1, native: the addon) and RTMFP.workers (w0: all on the main thread). lost = window frames never delivered (RTMFP media is unreliable with',
    'deadlines: abandoned, not resent late); cpu ms/sub·s = server CPU (all threads, utime+stime) per subscriber-second; subs/core = 1000 ÷ that; main thr = the main thread\'s CPU (% of one core), threads = the two busiest others (the media workers);',
    'udp drops srv/cli = datagrams the kernel dropped for a full receive buffer over the window, on the server\'s sockets (acks) / the subscribers\' (media);',
    'KiB/session = server RSS growth ÷ subscribers (counts garbage room too: young generation, old-space slack); heap KiB/s = growth of the live JS heap (heapUsed after a forced GC, all threads) ÷ subscribers;',
    'ext KiB/s = growth of external memory (native keys, Buffer backing stores) ÷ subscribers; loadgen = subscriber process CPU (% of one core; ! = over 90 %: the load generator may be the limit, and its lateness shows as latency and loss).',
  ].join('\n');
};

export interface RtmfpFanoutRun {
  benchmark: 'rtmfpFanout';
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  machineAtEnd: MachineInfo;
  options: RtmfpFanoutOptions;
  stream: StreamProfile & { keyBytes: number; interBytes: number; audioBytes: number };
  nimbus: ReturnType<typeof nimbusBuild>;
  skipped: string[];
  trials: RtmfpTrial[];
  resultFile: string;
}

export const runRtmfpFanout = async (o: RtmfpFanoutOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<RtmfpFanoutRun> => {
  const { startedAt, began, machine } = startRun(log);
  const profile = defaultProfile(o.kbps);
  const sizes = frameSizes(profile);
  const skipped: string[] = [];
  const noNative = nativeUnavailable();
  let arms = o.arms;
  if (noNative !== null && arms.some((a) => a.kernels === 'native')) {
    skipped.push(`native arms skipped: ${noNative} (npm run build:native)`);
    log(skipped[skipped.length - 1]);
    arms = arms.filter((a) => a.kernels !== 'native');
  }
  const deadline = began + o.maxMinutes * 60_000;
  const trials: RtmfpTrial[] = [];
  log(`rtmfpFanout: ${o.kbps} kbit/s from an ${o.publisher.toUpperCase()} publisher (video ${profile.fps} fps, keyframe ${sizes.key} B every ${profile.gop}, inter ${sizes.inter} B; audio ${profile.audioFps.toFixed(1)}/s × ${sizes.audio} B), subscribers ${o.subscribers.join(',')}, arms ${arms.map(armName).join(', ')}, ${o.seconds} s windows`);
  for (const [i, n] of o.subscribers.entries()) {
    // Rotate the arms' order per N so the machine's drift hits them alike.
    const k = i % arms.length;
    for (const arm of [...arms.slice(k), ...arms.slice(0, k)]) {
      if (performance.now() + trialBudgetSeconds(o, n) * 1000 > deadline) {
        log(`  ${armName(arm)} ${n}: skipped (--max-minutes=${o.maxMinutes} reached)`);
        continue;
      }
      let t: RtmfpTrial;
      try {
        t = await runTrial(o, arm, n, profile);
      } catch (err) {
        t = failedTrial(arm, n, err);
      }
      trials.push(t);
      log(
        `  ${t.arm.padEnd(9)} ${String(n).padStart(5)} subscribers: ${t.error !== undefined && t.connected === 0 ? t.error : `conn ${t.connected}, deliv ${fmt(t.deliveredRatio, 4)} (lost ${t.lost}, max ${fmt(t.maxLostPerSubscriber, 0)}/sub), ${fmt(t.cpuMsPerSubscriberSecond, 3)} ms/sub·s → ${fmt(t.subscribersPerCore, 0)} subs/core, srv ${pct(t.serverCpuPercent)} (main ${pct(t.mainThreadPercent)}, sys ${pct(t.serverSystemShare * 100)}), box ${pct(t.machineCpuPercent)}, udp drops srv ${fmt(t.serverUdpDrops, 0)} cli ${fmt(t.clientUdpDrops, 0)} (${fmt(t.udpOutPerSecond, 0)} datagrams/s), ${fmt(t.memKiBPerSession, 1)} KiB/session (live heap ${fmt(t.heapKiBPerSession, 1)}, external ${fmt(t.externalKiBPerSession, 1)}, new space ${fmt(t.newSpaceEndKiB / 1024, 0)} MiB), p50 ${fmt(t.latencyP50, 1)} ms p99 ${fmt(t.latencyP99, 1)} ms, join ${fmt(t.joinSeconds, 1)} s, loadgen ${pct(t.playerCpuPercent)}${t.keptUp ? '' : ' FELL BEHIND'}${t.closedDuringRun > 0 ? `, ${t.closedDuringRun} closed (${t.closeReasons[0]})` : ''}${t.connectFailures.length > 0 ? `, join errors: ${t.connectFailures[0]}` : ''}${t.error !== undefined ? ` (${t.error})` : ''}`}`,
      );
    }
  }
  trials.sort((a, b) => a.subscribers - b.subscribers || arms.findIndex((x) => armName(x) === a.arm) - arms.findIndex((x) => armName(x) === b.arm));
  const run: Omit<RtmfpFanoutRun, 'resultFile'> = {
    benchmark: 'rtmfpFanout',
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - began) / 1000),
    machine,
    machineAtEnd: machineInfo(),
    options: { ...o, arms },
    stream: { ...profile, keyBytes: sizes.key, interBytes: sizes.inter, audioBytes: sizes.audio },
    nimbus: nimbusBuild(),
    skipped,
    trials,
  };
  return { ...run, resultFile: writeResult(o.outDir, 'rtmfpFanout', startedAt, run) };
};

export const main = (argv: string[]): Promise<number> =>
  benchMain('rtmfpFanout', argv, parseRtmfpFanoutArgs, runRtmfpFanout, (o, run) => {
    const parts: string[] = [];
    parts.push(
      `\n${machineLine('rtmfpFanout', run.machine, run.machineAtEnd, run.durationSeconds)}\n` +
        `${nimbusLine(run.nimbus)}; ${run.stream.kbps} kbit/s, ${o.publisher.toUpperCase()} publisher${run.skipped.map((s) => `; ${s}`).join('')}\n\n`,
    );
    parts.push(`${renderRtmfpFanout(run.options, run.trials)}\n\nJSON: ${run.resultFile}\n`);
    return parts.join('');
  });

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
