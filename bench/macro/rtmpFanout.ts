/**
 * Macro benchmark: RTMP fan-out. One publisher at ~1 Mbit/s (bench/lib/stream.ts), N light RTMP
 * players on loopback in a separate player process, for Nimbus and its peers (node-media-server,
 * nginx with the RTMP module when installed) in the same run, each server fresh in its own
 * process per trial, the order rotating per N.
 *
 * For each trial: server CPU (utime+stime from /proc) per delivered frame, delivered/expected
 * frames, server RSS growth per player, latency p50/p99 (publisher write → player receive), and
 * whether the server kept up (delivered >= --min-delivery and p99 < --latency-limit). The most
 * players a server serves is the largest N that kept up, every smaller N having kept up too.
 *
 *   node --import tsx bench/macro/rtmpFanout.ts [--quick] [--players=50,100,200] [--seconds=10] ...
 *   (or through bench/run.ts: npm run bench -- rtmpFanout --quick)
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { packageVersion, benchMain, collectReports, commonOptions, PlayerProcess, machineLine, median, nimbusBuild, nimbusLine, split, startRun, writeResult, endTrial, warmUpAndArm } from '../lib/common.js';
import type { ReadyEvent } from '../lib/playerIpc.js';
import { type MachineInfo, type ServerHandle, type ServerKind as PeerKind, busiestThreads, freePort, machineInfo, nginxAvailable, readCpuSeconds, readMachineCpu, readThreadCpuSeconds, readThreadsCpu, repoRoot, sleep, startServer, withTimeout } from '../lib/proc.js';
import { fmt, formatTable, geometricMean } from '../lib/stats.js';
import { StreamPublisher, defaultProfile, frameSizes, type StreamProfile } from '../lib/stream.js';

/**
 * A server under test: Nimbus (`dist/cli.js`, native addon when built), node-media-server, nginx, or
 * a Nimbus arm: `nimbus-node` (`NIMBUS_NO_NATIVE=1`: Node's own socket writes) and `nimbus-base`
 * (the build at `BENCH_BASE_CLI`, e.g. a copy of `dist/` before a change).
 */
/** `nimbus:KEY=V,KEY=V`: Nimbus with those settings (e.g. `nimbus:RTMP.mergeWrite=100`). */
type BaseKind = PeerKind | 'nimbus-node' | 'nimbus-base' | 'nimbus-w0' | `nimbus:${string}`;
/** `KIND@http-flv`: the same server, its players by HTTP-FLV instead of RTMP (Nimbus HTTP.port, node-media-server's http). */
export type ServerKind = BaseKind | `${BaseKind}@http-flv`;
const HTTP_FLV = '@http-flv';
const SERVER_KINDS: readonly string[] = ['nimbus', 'nms', 'nginx', 'nimbus-node', 'nimbus-base', 'nimbus-w0'];

export interface FanoutOptions {
  players: number[];
  servers: ServerKind[];
  seconds: number;
  warmup: number;
  drain: number;
  repeat: number;
  kbps: number;
  playerProcesses: number;
  concurrency: number;
  minDelivery: number;
  latencyLimitMs: number;
  stopOnFail: boolean;
  maxMinutes: number;
  profile: boolean;
  outDir: string;
}

export interface TrialResult {
  server: ServerKind;
  players: number;
  repeat: number;
  connected: number;
  connectFailures: string[];
  connectMs: number;
  /** One player's join (TCP connect to Play.Start): p99 and max over the successful ones, ms. */
  joinP99Ms: number;
  joinMaxMs: number;
  measuredSeconds: number;
  serverCpuSeconds: number;
  /** Part of the server's CPU time spent in the kernel (stime / (utime + stime)): socket writes, TCP. */
  serverSystemShare: number;
  serverCpuPercent: number;
  /** The main thread's CPU and the two busiest other threads' (the media workers of a 2-worker Nimbus), % of one core. */
  mainThreadPercent: number;
  threadPercents: number[];
  playerCpuPercent: number;
  publisherFrames: number;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  minPlayerRatio: number;
  playersBelow99: number;
  duplicates: number;
  cpuUsPerFrame: number;
  /**
   * Whole-machine busy CPU (every process and the kernel's softirq time) per delivered frame: includes
   * the load generator, and the loopback TCP work that no process is charged for.
   */
  machineUsPerFrame: number;
  /** Whole machine busy over the window, % of one core (2 cores = 200 %), and its softirq part. */
  machineCpuPercent: number;
  softirqPercent: number;
  rssBaseKiB: number;
  rssEndKiB: number;
  rssPeakKiB: number;
  memKiBPerPlayer: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  /** Latency p50 of the window's first and last tenth (by sequence number): a growing lag vs a steady one. */
  latencyP50First: number;
  latencyP50Last: number;
  closedDuringRun: number;
  closeReasons: string[];
  keptUp: boolean;
  /** The player processes used most of a core: the load generator may have been the limit. */
  loadgenBound: boolean;
  error?: string;
}

const usage = `rtmpFanout: one ~1 Mbit/s publisher, N RTMP players, Nimbus vs node-media-server and nginx-rtmp.

  --players=LIST        player counts (default 100,200,400,800,1200,1600; env BENCH_PLAYERS)
  --servers=LIST        nimbus,nms,nginx (default all three; nginx is skipped with a note when it or its
                        RTMP module is not installed: apt-get install -y nginx libnginx-mod-rtmp); Nimbus arms
                        too: nimbus-node (NIMBUS_NO_NATIVE=1, Node's socket writes), nimbus-w0 (RTMP.workers=0:
                        everything on the main thread) and nimbus-base (the build at
                        BENCH_BASE_CLI=/path/to/cli.js), and nimbus:KEY=V+KEY=V (Nimbus with those settings,
                        e.g. nimbus:RTMP.mergeWrite=100); ratios are always against "nimbus"
  --seconds=S           measurement window per trial (default 10; env BENCH_SECONDS)
  --warmup=S            after the players connected, before measuring (default 3)
  --drain=S             after the window, for frames in flight (default 2)
  --repeat=R            trials per server and N (default 1; the medians are reported)
  --kbps=K              stream bitrate (default 1000)
  --player-procs=P      player processes (default 1)
  --concurrency=C       players connecting at once (default 32)
  --min-delivery=R      kept up: delivered/expected at least R (default 0.99)
  --latency-limit=MS    kept up: latency p99 under MS (default 1000)
  --no-stop-on-fail     keep trying larger N after a server fell behind
  --max-minutes=M       skip the trials that would not end within M minutes (default 10)
  --profile             run the servers with --cpu-prof (profiles in bench/results/profiles/)
  --quick               smoke run: --players=10,40 --seconds=2 --warmup=1 --drain=1
  --out=DIR             JSON results folder (default bench/results)
`;

export const parseFanoutArgs = (argv: string[]): FanoutOptions | null => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...commonOptions,
      players: { type: 'string' },
      servers: { type: 'string' },
      warmup: { type: 'string' },
      drain: { type: 'string' },
      repeat: { type: 'string' },
      kbps: { type: 'string' },
      'player-procs': { type: 'string' },
      concurrency: { type: 'string' },
      'min-delivery': { type: 'string' },
      'latency-limit': { type: 'string' },
      'no-stop-on-fail': { type: 'boolean' },
      profile: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return null;
  }
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) {
      throw new Error(`--${name}=${raw}: expected a number in ${min}..${max}`);
    }
    return v;
  };
  const playersRaw = values.players ?? process.env.BENCH_PLAYERS ?? (quick ? '10,40' : '100,200,400,800,1200,1600');
  const players = playersRaw.split(',').map((s) => num('players', s.trim(), 0, 1, 5000));
  const servers = (values.servers ?? 'nimbus,nms,nginx').split(',').map((s) => s.trim());
  for (const raw of servers) {
    const s = raw.endsWith(HTTP_FLV) ? raw.slice(0, -HTTP_FLV.length) : raw;
    if (raw.endsWith(HTTP_FLV) && s === 'nginx') {
      throw new Error('--servers: nginx-rtmp has no HTTP-FLV');
    }
    if (!SERVER_KINDS.includes(s) && !/^nimbus:[\w.]+=[^,]+(\+[\w.]+=[^,]+)*$/.test(s)) {
      throw new Error(`--servers: unknown server "${s}" (${SERVER_KINDS.join(', ')})`);
    }
    if (s === 'nimbus-base' && process.env.BENCH_BASE_CLI === undefined) {
      throw new Error('--servers=nimbus-base needs BENCH_BASE_CLI=/path/to/another/dist/cli.js');
    }
  }
  return {
    players: [...new Set(players)].sort((a, b) => a - b),
    servers: servers as ServerKind[],
    seconds: num('seconds', values.seconds ?? process.env.BENCH_SECONDS, quick ? 2 : 10, 1, 120),
    warmup: num('warmup', values.warmup, quick ? 1 : 3, 0, 60),
    drain: num('drain', values.drain, quick ? 1 : 2, 0.5, 30),
    repeat: Math.round(num('repeat', values.repeat, 1, 1, 10)),
    kbps: num('kbps', values.kbps, 1000, 50, 50_000),
    playerProcesses: Math.round(num('player-procs', values['player-procs'], 1, 1, 8)),
    concurrency: Math.round(num('concurrency', values.concurrency, 32, 1, 512)),
    minDelivery: num('min-delivery', values['min-delivery'], 0.99, 0, 1),
    latencyLimitMs: num('latency-limit', values['latency-limit'], 1000, 1, 60_000),
    stopOnFail: values['no-stop-on-fail'] !== true,
    maxMinutes: num('max-minutes', values['max-minutes'], 10, 0.5, 120),
    profile: values.profile === true,
    outDir: values.out ?? `${repoRoot}bench/results`,
  };
};

const readyTimeoutMs = (players: number): number => 60_000 + players * 100;

const trialBudgetSeconds = (o: FanoutOptions, players: number): number => 4 + players / 100 + o.warmup + o.seconds + o.drain;

/** Starts one server or Nimbus arm (trials run one at a time, so the env switch is safe). */
const startArm = async (arm: ServerKind, nodeArgs: string[], httpPort?: number): Promise<ServerHandle> => {
  const kind = (arm.endsWith(HTTP_FLV) ? arm.slice(0, -HTTP_FLV.length) : arm) as BaseKind;
  if (kind === 'nimbus-node') {
    return startServer('nimbus', { nodeArgs, httpPort, env: { NIMBUS_NO_NATIVE: '1' } });
  }
  if (kind.startsWith('nimbus:')) {
    return startServer('nimbus', { nodeArgs, httpPort, args: kind.slice(7).split('+').map((kv) => `--${kv}`) });
  }
  if (kind === 'nimbus-w0') {
    return startServer('nimbus', { nodeArgs, httpPort, args: ['--RTMP.workers=0', '--RTMFP.workers=0'] });
  }
  if (kind === 'nimbus-base') {
    const saved = process.env.BENCH_NIMBUS_CLI;
    process.env.BENCH_NIMBUS_CLI = process.env.BENCH_BASE_CLI;
    try {
      return await startServer('nimbus', { nodeArgs, httpPort });
    } finally {
      if (saved === undefined) {
        delete process.env.BENCH_NIMBUS_CLI;
      } else {
        process.env.BENCH_NIMBUS_CLI = saved;
      }
    }
  }
  return startServer(kind as PeerKind, { nodeArgs, httpPort });
};

const runTrial = async (o: FanoutOptions, kind: ServerKind, players: number, repeat: number, profile: StreamProfile): Promise<TrialResult> => {
  const nodeArgs = o.profile && kind !== 'nginx' ? ['--cpu-prof', `--cpu-prof-dir=${o.outDir}/profiles`, `--cpu-prof-name=${kind}-${players}-${repeat}-${Date.now()}.cpuprofile`] : [];
  const httpFlv = kind.endsWith(HTTP_FLV);
  const httpPort = httpFlv ? await freePort() : undefined;
  const server: ServerHandle = await startArm(kind, nodeArgs, httpPort);
  const url = `rtmp://127.0.0.1:${server.port}/live`;
  const playerUrl = httpFlv ? `http://127.0.0.1:${httpPort}/live` : url;
  const stream = 'bench';
  const procs: PlayerProcess[] = [];
  const publisherClient = new RtmpClient();
  let publisher: StreamPublisher | null = null;
  try {
    await withTimeout(publisherClient.connect(url), 10_000, 'publisher connect');
    const streamId = await publisherClient.publish(stream);
    // Bounded, with room for a slow join (the players get up to readyTimeout to connect).
    publisher = new StreamPublisher(publisherClient, streamId, profile, trialBudgetSeconds(o, players) * 1000 + readyTimeoutMs(players) + 30_000);
    publisher.start();
    await sleep(1000);
    const rssBase = server.rssKiB();

    for (const count of split(players, o.playerProcesses)) {
      const p = new PlayerProcess();
      procs.push(p);
      p.send({
        cmd: 'start',
        url: playerUrl,
        protocol: httpFlv ? 'http-flv' : 'rtmp',
        stream,
        players: count,
        concurrency: Math.max(1, Math.round(o.concurrency / o.playerProcesses)),
        connectTimeoutMs: 15_000,
        maxLifetimeMs: (trialBudgetSeconds(o, players) + 60) * 1000 + readyTimeoutMs(players),
        // Armed one second before the window, then the window and the drain; 1.5 × for margin.
        logCapacity: Math.ceil(count * (profile.fps + profile.audioFps) * (1 + o.seconds + o.drain + 2) * 1.5),
      });
    }
    const readies: ReadyEvent[] = await Promise.all(procs.map((p) => p.next<ReadyEvent>('ready', readyTimeoutMs(players))));
    const connected = readies.reduce((a, r) => a + r.connected, 0);
    const connectFailures = readies.flatMap((r) => r.errors);
    const connectMs = Math.max(...readies.map((r) => r.connectMs));
    const joinP99 = Math.max(...readies.map((r) => r.joinP99));
    const joinMax = Math.max(...readies.map((r) => r.joinMax));

    await warmUpAndArm(procs, o.warmup);

    const videoStart = publisher.videoSeq;
    const audioStart = publisher.audioSeq;
    const t0 = performance.now();
    const cpu0 = server.cpu();
    const main0 = readThreadCpuSeconds(server.pid, server.pid);
    const threads0 = readThreadsCpu(server.pid);
    const machine0 = readMachineCpu();
    const playerCpu0 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    let rssPeak = 0;
    const deadline = t0 + o.seconds * 1000;
    while (performance.now() < deadline) {
      await sleep(Math.min(500, deadline - performance.now()));
      rssPeak = Math.max(rssPeak, server.rssKiB());
    }
    const videoEnd = publisher.videoSeq;
    const audioEnd = publisher.audioSeq;
    const cpu1 = server.cpu();
    const main1 = readThreadCpuSeconds(server.pid, server.pid);
    const threads1 = readThreadsCpu(server.pid);
    const machine1 = readMachineCpu();
    const playerCpu1 = procs.reduce((a, p) => a + readCpuSeconds(p.pid), 0);
    const t1 = performance.now();
    const rssEnd = server.rssKiB();

    const { reports, histogram } = await collectReports(procs, { videoStart, videoEnd, audioStart, audioEnd }, o.drain);
    const seconds = (t1 - t0) / 1000;
    const publisherFrames = videoEnd - videoStart + (audioEnd - audioStart);
    const expected = publisherFrames * players;
    const delivered = reports.reduce((a, r) => a + r.delivered, 0);
    const serverCpu = cpu1.user + cpu1.system - (cpu0.user + cpu0.system);
    const overflow = reports.reduce((a, r) => a + r.overflow, 0);
    const deliveredRatio = expected === 0 ? 0 : delivered / expected;
    const latencyP99 = histogram.quantile(0.99);
    const playerCpuPercent = ((playerCpu1 - playerCpu0) / seconds / o.playerProcesses) * 100;
    return {
      server: kind,
      players,
      repeat,
      connected,
      connectFailures,
      connectMs: Math.round(connectMs),
      joinP99Ms: Math.round(joinP99),
      joinMaxMs: Math.round(joinMax),
      measuredSeconds: seconds,
      serverCpuSeconds: serverCpu,
      serverSystemShare: serverCpu > 0 ? (cpu1.system - cpu0.system) / serverCpu : Number.NaN,
      serverCpuPercent: (serverCpu / seconds) * 100,
      mainThreadPercent: ((main1 - main0) / seconds) * 100,
      threadPercents: busiestThreads(server.pid, threads0, threads1, seconds, 2),
      playerCpuPercent,
      publisherFrames,
      expected,
      delivered,
      deliveredRatio,
      minPlayerRatio: Math.min(...reports.map((r) => r.minPlayerRatio)),
      playersBelow99: reports.reduce((a, r) => a + r.playersBelow99, 0),
      duplicates: reports.reduce((a, r) => a + r.duplicates, 0),
      cpuUsPerFrame: delivered === 0 ? Number.NaN : (serverCpu * 1e6) / delivered,
      machineUsPerFrame: delivered === 0 ? Number.NaN : ((machine1.busy - machine0.busy) * 1e6) / delivered,
      machineCpuPercent: ((machine1.busy - machine0.busy) / seconds) * 100,
      softirqPercent: ((machine1.softirq - machine0.softirq) / seconds) * 100,
      rssBaseKiB: rssBase,
      rssEndKiB: rssEnd,
      rssPeakKiB: rssPeak,
      memKiBPerPlayer: (rssEnd - rssBase) / players,
      latencyP50: histogram.quantile(0.5),
      latencyP99,
      latencyMax: histogram.max,
      latencyP50First: median(reports.map((r) => r.latencyP50First)),
      latencyP50Last: median(reports.map((r) => r.latencyP50Last)),
      closedDuringRun: reports.reduce((a, r) => a + r.closed, 0),
      closeReasons: reports.flatMap((r) => r.closeReasons),
      keptUp: connected === players && deliveredRatio >= o.minDelivery && latencyP99 < o.latencyLimitMs,
      loadgenBound: playerCpuPercent > 90,
      ...(overflow > 0 ? { error: `player log overflow (${overflow} receipts not logged): the numbers are incomplete` } : {}),
    };
  } finally {
    await endTrial(publisher, procs, publisherClient, [{ label: kind, server }]);
  }
};

const failedTrial = (kind: ServerKind, players: number, repeat: number, err: unknown): TrialResult => ({
  server: kind, players, repeat, connected: 0, connectFailures: [], connectMs: 0, joinP99Ms: Number.NaN, joinMaxMs: Number.NaN, measuredSeconds: 0, serverCpuSeconds: 0, serverSystemShare: Number.NaN,
  serverCpuPercent: 0, mainThreadPercent: Number.NaN, threadPercents: [], playerCpuPercent: 0, publisherFrames: 0, expected: 0, delivered: 0, deliveredRatio: 0, minPlayerRatio: 0,
  playersBelow99: players, duplicates: 0, cpuUsPerFrame: Number.NaN, machineUsPerFrame: Number.NaN, machineCpuPercent: Number.NaN,
  softirqPercent: Number.NaN, rssBaseKiB: 0, rssEndKiB: 0, rssPeakKiB: 0,
  memKiBPerPlayer: Number.NaN, latencyP50: Number.NaN, latencyP99: Number.NaN, latencyMax: Number.NaN,
  latencyP50First: Number.NaN, latencyP50Last: Number.NaN, closedDuringRun: 0,
  closeReasons: [], keptUp: false, loadgenBound: false, error: err instanceof Error ? err.message : String(err),
});

/** The trials of one server at one N, reduced to medians (kept up only if every repeat did). */
export interface Cell {
  server: ServerKind;
  players: number;
  trials: TrialResult[];
  cpuUsPerFrame: number;
  machineUsPerFrame: number;
  machineCpuPercent: number;
  deliveredRatio: number;
  memKiBPerPlayer: number;
  latencyP50: number;
  latencyP99: number;
  serverCpuPercent: number;
  serverSystemShare: number;
  playerCpuPercent: number;
  connectMs: number;
  latencyP50First: number;
  latencyP50Last: number;
  keptUp: boolean;
  loadgenBound: boolean;
}

const cellOf = (trials: TrialResult[]): Cell => ({
  server: trials[0].server,
  players: trials[0].players,
  trials,
  cpuUsPerFrame: median(trials.map((t) => t.cpuUsPerFrame)),
  machineUsPerFrame: median(trials.map((t) => t.machineUsPerFrame)),
  machineCpuPercent: median(trials.map((t) => t.machineCpuPercent)),
  deliveredRatio: median(trials.map((t) => t.deliveredRatio)),
  memKiBPerPlayer: median(trials.map((t) => t.memKiBPerPlayer)),
  latencyP50: median(trials.map((t) => t.latencyP50)),
  latencyP99: median(trials.map((t) => t.latencyP99)),
  serverCpuPercent: median(trials.map((t) => t.serverCpuPercent)),
  serverSystemShare: median(trials.map((t) => t.serverSystemShare)),
  playerCpuPercent: median(trials.map((t) => t.playerCpuPercent)),
  connectMs: median(trials.map((t) => t.connectMs)),
  latencyP50First: median(trials.map((t) => t.latencyP50First)),
  latencyP50Last: median(trials.map((t) => t.latencyP50Last)),
  keptUp: trials.every((t) => t.keptUp),
  loadgenBound: trials.some((t) => t.loadgenBound),
});

/** Nimbus against one peer at one N: ratios < 1 mean Nimbus is better. */
export interface PeerRatio {
  peer: ServerKind;
  players: number;
  cpuPerFrame: number;
  machinePerFrame: number;
  memPerPlayer: number;
}

export interface FanoutSummary {
  /** Largest N that kept up (all smaller N too), per server; `limited` false when it never fell behind. */
  maxPlayers: Record<string, { players: number; limited: boolean }>;
  ratios: PeerRatio[];
  /** Per peer: geometric means over the N where Nimbus and that peer both kept up, and the most-players ratio. */
  peers: Record<string, { cpuPerFrame: number; machinePerFrame: number; memPerPlayer: number; playersPerCore: number; maxPlayers: string }>;
}

/** Players one core would serve at this N: N ÷ (server CPU in cores). */
export const playersPerCore = (c: { players: number; serverCpuPercent: number }): number => (c.serverCpuPercent > 0 ? c.players / (c.serverCpuPercent / 100) : Number.NaN);

const summarize = (o: FanoutOptions, cells: Cell[]): FanoutSummary => {
  const maxPlayers: FanoutSummary['maxPlayers'] = {};
  for (const kind of o.servers) {
    let best = 0;
    let limited = false;
    for (const n of o.players) {
      const cell = cells.find((c) => c.server === kind && c.players === n);
      if (cell === undefined) {
        break;
      }
      if (!cell.keptUp) {
        limited = true;
        break;
      }
      best = n;
    }
    maxPlayers[kind] = { players: best, limited };
  }
  const ratios: PeerRatio[] = [];
  const peers: FanoutSummary['peers'] = {};
  for (const peer of o.servers.filter((k) => k !== 'nimbus')) {
    const both: PeerRatio[] = [];
    const ppc: number[] = [];
    for (const n of o.players) {
      const a = cells.find((c) => c.server === 'nimbus' && c.players === n);
      const b = cells.find((c) => c.server === peer && c.players === n);
      if (a === undefined || b === undefined) {
        continue;
      }
      const r: PeerRatio = {
        peer,
        players: n,
        cpuPerFrame: a.cpuUsPerFrame / b.cpuUsPerFrame,
        machinePerFrame: a.machineUsPerFrame / b.machineUsPerFrame,
        memPerPlayer: a.memKiBPerPlayer / b.memKiBPerPlayer,
      };
      ratios.push(r);
      // Geometric means over the N both kept up at (past that, the CPU per frame of a server that
      // drops or queues is not comparable).
      if (a.keptUp && b.keptUp) {
        both.push(r);
        ppc.push(playersPerCore(a) / playersPerCore(b));
      }
    }
    const a = maxPlayers.nimbus;
    const b = maxPlayers[peer];
    let most = '-';
    if (a !== undefined && b !== undefined) {
      const r = a.players === 0 && b.players === 0 ? Number.NaN : b.players === 0 ? Number.POSITIVE_INFINITY : a.players / b.players;
      const value = Number.isNaN(r) ? '-' : Number.isFinite(r) ? r.toFixed(2) : '∞';
      most = a.limited && b.limited ? value : !a.limited && b.limited ? `≥${value}` : a.limited && !b.limited ? `≤${value}` : `? (neither fell behind up to ${Math.max(...o.players)})`;
    }
    peers[peer] = {
      cpuPerFrame: geometricMean(both.map((r) => r.cpuPerFrame)),
      machinePerFrame: geometricMean(both.map((r) => r.machinePerFrame)),
      memPerPlayer: geometricMean(both.map((r) => r.memPerPlayer)),
      playersPerCore: geometricMean(ppc),
      maxPlayers: most,
    };
  }
  return { maxPlayers, ratios, peers };
};

const pct = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '-');

/** "main | worker, worker" CPU (% of one core), for Nimbus arms. */
const threadsCell = (t: TrialResult): string =>
  Number.isFinite(t.mainThreadPercent) && t.server.startsWith('nimbus') ? `${pct(t.mainThreadPercent)} | ${t.threadPercents.map((p) => pct(p)).join(' ')}` : '-';

export const renderFanout = (o: FanoutOptions, cells: Cell[], summary: FanoutSummary): string => {
  const rows = cells.map((c) => {
    const t = c.trials[0];
    return [
      c.server,
      c.players,
      t.error !== undefined ? 'error' : `${Math.min(...c.trials.map((x) => x.connected))}`,
      fmt(c.deliveredRatio, 4),
      fmt(c.cpuUsPerFrame, 2),
      fmt(c.machineUsPerFrame, 2),
      pct(c.serverCpuPercent),
      pct(c.serverSystemShare * 100),
      threadsCell(t),
      fmt(playersPerCore(c), 0),
      fmt(c.memKiBPerPlayer, 1),
      fmt(c.latencyP50, 1),
      fmt(c.latencyP99, 1),
      `${fmt(c.latencyP50First, 0)}→${fmt(c.latencyP50Last, 0)}`,
      fmt(c.connectMs / 1000, 1),
      `${pct(c.playerCpuPercent)}${c.loadgenBound ? '!' : ''}`,
      c.keptUp ? 'yes' : 'NO',
    ];
  });
  const peers = Object.keys(summary.peers);
  const ns = [...new Set(summary.ratios.map((r) => r.players))];
  const lines = [
    formatTable(
      ['server', 'players', 'conn', 'deliv/exp', 'cpu µs/frame', 'box µs/frame', 'srv cpu', 'of it sys', 'main | threads', 'players/core', 'KiB/player', 'p50 ms', 'p99 ms', 'p50 trend', 'join s', 'loadgen', 'kept up'],
      rows,
    ),
    '',
    formatTable(
      ['players', ...peers.flatMap((p) => [`cpu/frame nimbus/${p}`, `box/frame nimbus/${p}`, `mem/player nimbus/${p}`])],
      ns.map((n) => [
        n,
        ...peers.flatMap((p) => {
          const r = summary.ratios.find((x) => x.peer === p && x.players === n);
          return r === undefined ? ['-', '-', '-'] : [fmt(r.cpuPerFrame, 2), fmt(r.machinePerFrame, 2), fmt(r.memPerPlayer, 2)];
        }),
      ]),
    ),
    '',
    ...Object.entries(summary.maxPlayers).map(
      ([k, v]) => `most players served (${k}): ${v.limited ? '' : '≥ '}${v.players}${v.limited ? '' : ' (never fell behind)'}`,
    ),
    ...peers.map((p) => {
      const r = summary.peers[p];
      return `ratios nimbus/${p} (geometric mean over the N both kept up at; < 1 = Nimbus better): cpu per frame ${fmt(r.cpuPerFrame, 2)} (whole machine ${fmt(r.machinePerFrame, 2)}), memory per player ${fmt(r.memPerPlayer, 2)}; players per core ${fmt(r.playersPerCore, 2)} (> 1 = Nimbus better); most players ${r.maxPlayers}`;
    }),
    `kept up = all players connected, delivered/expected >= ${o.minDelivery} and latency p99 < ${o.latencyLimitMs} ms. frame = one audio or video message delivered to one player.`,
    'cpu µs/frame = server utime+stime per delivered frame (nginx: master + worker); box µs/frame = the whole machine\'s busy CPU (server, players, publisher, softirq) per delivered frame;',
    'srv cpu = server CPU over the window (% of one core), of it sys = the kernel part; main | threads = Nimbus\'s main thread and its two busiest other threads (the media workers); players/core = players ÷ server CPU in cores (what one core would serve at this load);',
    'p50 trend = latency p50 (ms) of the first → last tenth of the window; join s = time for all players to connect and start playing;',
    'loadgen = player process CPU (% of one core; ! = over 90 %, the load generator may be the limit).',
  ];
  return lines.join('\n');
};

export interface FanoutRun {
  benchmark: 'rtmpFanout';
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  machineAtEnd: MachineInfo;
  options: FanoutOptions;
  stream: StreamProfile & { keyBytes: number; interBytes: number; audioBytes: number };
  /** The peers as run (name → version and how), and the ones skipped with the reason. */
  peers: Record<string, string>;
  skipped: Record<string, string>;
  /** What Nimbus build ran: its cli.js, the repository's commit, and whether src/ had uncommitted changes. */
  nimbus: { cli: string; commit: string; srcDirty: boolean | null };
  cells: Array<Omit<Cell, 'trials'>>;
  trials: TrialResult[];
  summary: FanoutSummary;
  resultFile: string;
}

export const runFanout = async (o: FanoutOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<FanoutRun> => {
  const { startedAt, began, machine } = startRun(log);
  const profile = defaultProfile(o.kbps);
  const sizes = frameSizes(profile);
  const trials: TrialResult[] = [];
  const fellBehind = new Set<ServerKind>();
  const deadline = began + o.maxMinutes * 60_000;
  const peers: Record<string, string> = {};
  const skipped: Record<string, string> = {};
  if (o.servers.includes('nms')) {
    peers.nms = `node-media-server ${packageVersion('node-media-server')} (npm), bench/peers/nms-server.mjs`;
  }
  if (o.servers.includes('nginx')) {
    const nginx = nginxAvailable();
    if ('reason' in nginx) {
      skipped.nginx = nginx.reason;
      log(`nginx skipped: ${nginx.reason}`);
      o = { ...o, servers: o.servers.filter((k) => k !== 'nginx') };
    } else {
      peers.nginx = `nginx ${nginx.version} (${nginx.bin}, master + 1 worker, application live { live on; }, chunk_size 4096)`;
    }
  }
  log(`rtmpFanout: ${o.kbps} kbit/s (video ${profile.fps} fps, keyframe ${sizes.key} B every ${profile.gop}, inter ${sizes.inter} B; audio ${profile.audioFps.toFixed(1)}/s × ${sizes.audio} B), players ${o.players.join(',')}, ${o.seconds} s windows, servers ${o.servers.join(',')}`);
  for (let r = 0; r < o.repeat; r++) {
    for (let i = 0; i < o.players.length; i++) {
      const n = o.players[i];
      // Rotate which server goes first, so drift in the machine's load hits them alike.
      const k = (i + r) % o.servers.length;
      const order = [...o.servers.slice(k), ...o.servers.slice(0, k)];
      for (const kind of order) {
        if (o.stopOnFail && fellBehind.has(kind)) {
          continue;
        }
        if (performance.now() + trialBudgetSeconds(o, n) * 1000 > deadline) {
          log(`  ${kind} ${n} players: skipped (--max-minutes=${o.maxMinutes} reached)`);
          continue;
        }
        let t: TrialResult;
        try {
          t = await runTrial(o, kind, n, r, profile);
        } catch (err) {
          t = failedTrial(kind, n, r, err);
        }
        trials.push(t);
        if (!t.keptUp) {
          fellBehind.add(kind);
        }
        log(
          `  ${kind.padEnd(6)} ${String(n).padStart(5)} players: ${t.error ?? `conn ${t.connected}, deliv ${fmt(t.deliveredRatio, 4)}, ${fmt(t.cpuUsPerFrame, 2)} µs/frame (box ${fmt(t.machineUsPerFrame, 2)}, ${pct(t.machineCpuPercent)} busy, si ${pct(t.softirqPercent)}), srv ${pct(t.serverCpuPercent)} (sys ${pct(t.serverSystemShare * 100)}), ${fmt(t.memKiBPerPlayer, 1)} KiB/player, p50 ${fmt(t.latencyP50, 1)} ms (${fmt(t.latencyP50First, 0)}→${fmt(t.latencyP50Last, 0)}), p99 ${fmt(t.latencyP99, 1)} ms, join ${fmt(t.connectMs / 1000, 1)} s (one: p99 ${fmt(t.joinP99Ms / 1000, 1)} s, max ${fmt(t.joinMaxMs / 1000, 1)} s), loadgen ${pct(t.playerCpuPercent)}${t.keptUp ? '' : ' FELL BEHIND'}${t.closedDuringRun > 0 ? `, ${t.closedDuringRun} closed (${t.closeReasons[0]})` : ''}`}`,
        );
      }
    }
  }
  const cells: Cell[] = [];
  for (const kind of o.servers) {
    for (const n of o.players) {
      const ts = trials.filter((t) => t.server === kind && t.players === n);
      if (ts.length > 0) {
        cells.push(cellOf(ts));
      }
    }
  }
  cells.sort((a, b) => a.players - b.players || o.servers.indexOf(a.server) - o.servers.indexOf(b.server));
  const summary = summarize(o, cells);
  const run: Omit<FanoutRun, 'resultFile'> = {
    benchmark: 'rtmpFanout',
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - began) / 1000),
    machine,
    machineAtEnd: machineInfo(),
    options: o,
    stream: { ...profile, keyBytes: sizes.key, interBytes: sizes.inter, audioBytes: sizes.audio },
    peers,
    skipped,
    nimbus: nimbusBuild(),
    cells: cells.map(({ trials: _trials, ...rest }) => rest),
    trials,
    summary,
  };
  return { ...run, resultFile: writeResult(o.outDir, 'rtmpFanout', startedAt, run) };
};

export const main = (argv: string[]): Promise<number> =>
  benchMain('rtmpFanout', argv, parseFanoutArgs, runFanout, (o, run) => {
    const parts: string[] = [];
    const peers = Object.entries(run.peers).map(([k, v]) => `${k}: ${v}\n`).join('');
    const skipped = Object.entries(run.skipped).map(([k, v]) => `${k}: SKIPPED (${v})\n`).join('');
    parts.push(
      `\n${machineLine('rtmpFanout', run.machine, run.machineAtEnd, run.durationSeconds)}\n` +
        `${nimbusLine(run.nimbus)}; ${run.stream.kbps} kbit/s\n${peers}${skipped}\n`,
    );
    parts.push(`${renderFanout(run.options, run.cells.map((c) => ({ ...c, trials: run.trials.filter((t) => t.server === c.server && t.players === c.players) })), run.summary)}\n\nJSON: ${run.resultFile}\n`);
    return parts.join('');
  });

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
