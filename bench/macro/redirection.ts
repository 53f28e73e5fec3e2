/**
 * Macro benchmark: the seeds' 400-subscriber redirection scenario (MonaServer "Scalability and
 * load-balancing", ../shared/seeds/monaserver-scalability.txt). Three Nimbus processes chained
 * A → B → C in a mesh, each running the seed's relay script (test/fixtures/mesh/relay: the seed
 * verbatim, the threshold read from `maxSubscribers`, plus the marked addition that forwards relayed
 * copies one hop further). One publisher on A; N subscribers join A; past the threshold A's
 * `onSubscribe` fails with `error(_nextServer.host)` and the subscriber, as the seed's client does,
 * connects again to the last word of the NetStream.Play.Failed description: the first T play from
 * A, the next T from B, the rest from C.
 *
 * Reports the time until all are playing, frames lost per subscriber (must be zero), latency per
 * instance and the relay hops' added latency (p50/p99 differences), CPU and memory per instance.
 * Several bitrates run in ascending order; the highest at which the scenario holds is reported.
 *
 *   node --import tsx bench/macro/redirection.ts [--quick] [--subscribers=1200] [--threshold=400] [--kbps=500,1000]
 *   (or: npm run bench -- redirection --quick)
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { benchMain, collectReports, commonOptions, PlayerProcess, machineLine, nimbusBuild, nimbusLine, numberOption, split, startRun, writeResult, endTrial, warmUpAndArm } from '../lib/common.js';
import type { ReadyEvent } from '../lib/playerIpc.js';
import {
  type MachineInfo, type ServerHandle, freeDualPort, freePort, machineInfo, readCpuSeconds, readMachineCpu, readUdpCounters, readUdpDrops, repoRoot, sleep, startServer, withTimeout,
} from '../lib/proc.js';
import { LatencyHistogram, fmt, formatTable } from '../lib/stats.js';
import { StreamPublisher, defaultProfile, frameSizes, type StreamProfile } from '../lib/stream.js';

export interface RedirectionOptions {
  subscribers: number;
  threshold: number;
  kbps: number[];
  protocol: 'rtmp' | 'rtmfp';
  rtmfpWorkers: number;
  seconds: number;
  warmup: number;
  drain: number;
  playerProcesses: number;
  concurrency: number;
  latencyLimitMs: number;
  stopOnFail: boolean;
  /** Progress lines of the player processes on stderr every this many seconds (0: none). */
  progressSeconds: number;
  /** RTMFP subscribers sharing one UDP socket in a player process (0: one socket each). */
  sessionsPerSocket: number;
  /** RTMFP subscribers acknowledge in-order data on the delayed-ack timer (light mode). */
  delayedAcks: boolean;
  outDir: string;
}

const usage = `redirection: the seeds' 400-subscriber redirection scenario on three Nimbus instances (A → B → C).

  --subscribers=N       subscribers joining A (default 1200)
  --threshold=T         maxSubscribers of the relay script: subscribers per instance before redirecting (default 400)
  --kbps=LIST           bitrates, run in ascending order (default 500,1000); the highest that holds is reported
  --protocol=P          rtmp (default) or rtmfp subscribers (the publisher is RTMP)
  --rtmfp-workers=W     RTMFP.workers of each instance in the rtmfp variant (default 0: three instances
                        already share 2 cores)
  --seconds=S           measurement window (default 10)
  --warmup=S            after all subscribers play, before measuring (default 3)
  --drain=S             after the window, for frames in flight (default 2)
  --player-procs=P      subscriber processes (default 2)
  --concurrency=C       subscribers joining at once (default 32)
  --latency-limit=MS    holds only if every instance's latency p99 is under MS (default 1000)
  --no-stop-on-fail     try the higher bitrates even after one did not hold
  --sessions-per-socket=K  RTMFP subscribers sharing one UDP socket in a player process, told apart by session
                        ID, read and sent in batches with the native addon (default 50; 0: one socket each)
  --no-delayed-acks     RTMFP subscribers acknowledge every second packet (default: in-order data on the
                        50 ms delayed-ack timer, at most 16 packets unacknowledged)
  --progress=S          player processes print joined/playing/in-flight counts, CPU and event-loop delay every S s (default 0: off)
  --quick               smoke run: --subscribers=60 --threshold=20 --kbps=500 --seconds=3 --warmup=1 --drain=1 --player-procs=1
  --out=DIR             JSON results folder (default bench/results)
`;

export const parseRedirectionArgs = (argv: string[]): RedirectionOptions | null => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      subscribers: { type: 'string' },
      threshold: { type: 'string' },
      kbps: { type: 'string' },
      protocol: { type: 'string' },
      'rtmfp-workers': { type: 'string' },
      ...commonOptions,
      warmup: { type: 'string' },
      drain: { type: 'string' },
      'player-procs': { type: 'string' },
      concurrency: { type: 'string' },
      'latency-limit': { type: 'string' },
      'no-stop-on-fail': { type: 'boolean' },
      progress: { type: 'string' },
      'sessions-per-socket': { type: 'string' },
      'no-delayed-acks': { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return null;
  }
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const protocol = values.protocol ?? 'rtmp';
  if (protocol !== 'rtmp' && protocol !== 'rtmfp') {
    throw new Error(`--protocol=${protocol}: rtmp or rtmfp`);
  }
  const kbps = (values.kbps ?? (quick ? '500' : '500,1000')).split(',').map((k) => numberOption('kbps', k.trim(), 0, 50, 50_000));
  return {
    subscribers: Math.round(numberOption('subscribers', values.subscribers, quick ? 60 : 1200, 1, 10_000)),
    threshold: Math.round(numberOption('threshold', values.threshold, quick ? 20 : 400, 1, 10_000)),
    kbps: [...new Set(kbps)].sort((a, b) => a - b),
    protocol,
    rtmfpWorkers: Math.round(numberOption('rtmfp-workers', values['rtmfp-workers'], 0, 0, 64)),
    seconds: numberOption('seconds', values.seconds, quick ? 3 : 10, 1, 120),
    warmup: numberOption('warmup', values.warmup, quick ? 1 : 3, 0, 60),
    drain: numberOption('drain', values.drain, quick ? 1 : 2, 0.5, 30),
    playerProcesses: Math.round(numberOption('player-procs', values['player-procs'], quick ? 1 : 2, 1, 8)),
    concurrency: Math.round(numberOption('concurrency', values.concurrency, 32, 1, 512)),
    latencyLimitMs: numberOption('latency-limit', values['latency-limit'], 1000, 1, 60_000),
    stopOnFail: values['no-stop-on-fail'] !== true,
    progressSeconds: numberOption('progress', values.progress, 0, 0, 600),
    sessionsPerSocket: Math.round(numberOption('sessions-per-socket', values['sessions-per-socket'], 50, 0, 10_000)),
    delayedAcks: values['no-delayed-acks'] !== true,
    outDir: values.out ?? `${repoRoot}bench/results`,
  };
};

export interface InstanceResult {
  name: 'A' | 'B' | 'C';
  port: number;
  /** Subscribers that ended playing there (after redirections). */
  subscribers: number;
  delivered: number;
  expected: number;
  maxLostPerSubscriber: number;
  subscribersWithLoss: number;
  cpuPercent: number;
  rssBaseKiB: number;
  rssEndKiB: number;
  rssKiBPerSubscriber: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
}

export interface RedirectionTrial {
  kbps: number;
  subscribers: number;
  playing: number;
  joinErrors: string[];
  /** From the first subscriber's connect to the last one's Play.Start, redirections included. */
  allPlayingSeconds: number;
  /** Subscribers redirected 0, 1, 2... times. */
  redirects: number[];
  measuredSeconds: number;
  publisherFrames: number;
  lost: number;
  maxLostPerSubscriber: number;
  subscribersWithLoss: number;
  instances: InstanceResult[];
  /** Latency added by each relay hop: B − A and C − B, p50 and p99 (ms). */
  hops: Array<{ hop: string; p50: number; p99: number }>;
  /** Player processes' CPU together, % of one core. */
  playerCpuPercent: number;
  /** Whole machine busy (2 cores = 200 %) and its softirq part (loopback TCP/UDP work no process is charged for). */
  machineCpuPercent: number;
  softirqPercent: number;
  closedDuringRun: number;
  closeReasons: string[];
  holds: boolean;
  why: string[];
  error?: string;
}

const fixtureDir = fileURLToPath(new URL('../../test/fixtures/mesh/relay', import.meta.url));
const joined = /Connection established with/g;
const readyTimeoutMs = (n: number): number => 60_000 + n * 100;

const waitOutput = async (server: ServerHandle, re: RegExp, count: number, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms;
  while ((server.output().match(new RegExp(re.source, 'g'))?.length ?? 0) < count) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not seen within ${ms} ms; last output:\n${server.output().slice(-1500)}`);
    }
    await sleep(50);
  }
};

/**
 * With --progress: every interval while the subscribers join, one line per trial on stderr with each
 * instance's CPU (% of one core), RSS and UDP receive-queue drops, the player processes' CPU, the
 * machine's busy %, UDP receive/send buffer errors (all sockets) and new warning lines of the servers.
 */
const watchServers = (o: RedirectionOptions, servers: Array<[string, ServerHandle]>, procs: PlayerProcess[]): (() => void) => {
  if (o.progressSeconds <= 0) {
    return () => {};
  }
  const began = performance.now();
  let at = began;
  let cpu = servers.map(([, s]) => s.cpu());
  let players = procs.reduce((sum, p) => sum + readCpuSeconds(p.pid), 0);
  let machine = readMachineCpu();
  let udp = readUdpCounters();
  // The output is the last 64 KiB: new lines are those after the tail seen last time.
  const outputSeen = servers.map(([, s]) => s.output().slice(-200));
  const timer = setInterval(() => {
    const now = performance.now();
    const dt = (now - at) / 1000;
    const cpuNow = servers.map(([, s]) => s.cpu());
    const playersNow = procs.reduce((sum, p) => sum + readCpuSeconds(p.pid), 0);
    const machineNow = readMachineCpu();
    const udpNow = readUdpCounters();
    const parts = servers.map(([name, s], i) => {
      const used = cpuNow[i].user + cpuNow[i].system - (cpu[i].user + cpu[i].system);
      return `${name} ${((used / dt) * 100).toFixed(0)}% ${(s.rssKiB() / 1024).toFixed(0)} MiB drops ${readUdpDrops([s.port])}`;
    });
    process.stderr.write(
      `[servers +${((now - began) / 1000).toFixed(1)}s] ${parts.join(', ')}; players ${(((playersNow - players) / dt) * 100).toFixed(0)}%; ` +
        `machine ${(((machineNow.busy - machine.busy) / dt) * 100).toFixed(0)}% (si ${(((machineNow.softirq - machine.softirq) / dt) * 100).toFixed(0)}%); ` +
        `UDP in ${((udpNow.inDatagrams - udp.inDatagrams) / dt).toFixed(0)}/s rcvbuf errors +${udpNow.rcvbufErrors - udp.rcvbufErrors} sndbuf errors +${udpNow.sndbufErrors - udp.sndbufErrors}\n`,
    );
    servers.forEach(([name, s], i) => {
      const out = s.output();
      const seen = out.lastIndexOf(outputSeen[i]);
      const fresh = out.slice(seen < 0 ? 0 : seen + outputSeen[i].length).split('\n').filter((l) => /warn|error|fail|drop|clos|timeout/i.test(l));
      outputSeen[i] = out.slice(-200);
      for (const line of fresh.slice(0, 5)) {
        process.stderr.write(`  [${name}] ${line.slice(0, 300)}\n`);
      }
      if (fresh.length > 5) {
        process.stderr.write(`  [${name}] ... ${fresh.length - 5} more\n`);
      }
    });
    at = now;
    cpu = cpuNow;
    players = playersNow;
    machine = machineNow;
    udp = udpNow;
  }, o.progressSeconds * 1000);
  return () => clearInterval(timer);
};

const runTrial = async (o: RedirectionOptions, kbps: number, profile: StreamProfile): Promise<RedirectionTrial> => {
  const rtmfp = o.protocol === 'rtmfp';
  const [pA, pB, pC] = rtmfp ? [await freeDualPort(), await freeDualPort(), await freeDualPort()] : [await freePort(), await freePort(), await freePort()];
  const [meshB, meshC] = [await freePort(), await freePort()];
  const common = (port: number): string[] => [
    `--application.dir=${fixtureDir}`,
    `--publicHost=127.0.0.1:${port}`,
    `--maxSubscribers=${o.threshold}`,
    // NOTE: the mesh's joins and the script's relay notes; per-subscriber lines are INFO (not shown).
    '--log=5',
    ...(rtmfp ? [`--RTMFP.workers=${o.rtmfpWorkers}`] : []),
  ];
  const lastLine = rtmfp ? (o.rtmfpWorkers > 0 ? new RegExp(`media worker ${o.rtmfpWorkers - 1}\\)`) : /nimbus listening: RTMFP/) : /nimbus listening: RTMP/;
  const servers: ServerHandle[] = [];
  const procs: PlayerProcess[] = [];
  const publisherClient = new RtmpClient();
  let publisher: StreamPublisher | null = null;
  try {
    const c = await startServer('nimbus', { port: pC, rtmfp, args: [...common(pC), `--servers.port=${meshC}`], ready: /nimbus listening: servers/ });
    servers.push(c);
    const b = await startServer('nimbus', { port: pB, rtmfp, args: [...common(pB), `--servers.port=${meshB}`, `--servers.targets=127.0.0.1:${meshC}`], ready: /nimbus listening: servers/ });
    servers.push(b);
    const a = await startServer('nimbus', { port: pA, rtmfp, args: [...common(pA), `--servers.targets=127.0.0.1:${meshB}`], ready: lastLine });
    servers.push(a);
    await waitOutput(b, joined, 2, 15_000, 'B joined by A and joining C');
    await waitOutput(a, joined, 1, 15_000, 'A joined to B');

    await withTimeout(publisherClient.connect(`rtmp://127.0.0.1:${pA}/live`), 10_000, 'publisher connect');
    const streamId = await publisherClient.publish('bench');
    const budget = (10 + o.subscribers / 50 + o.warmup + o.seconds + o.drain) * 1000 + readyTimeoutMs(o.subscribers);
    publisher = new StreamPublisher(publisherClient, streamId, profile, budget + 30_000);
    publisher.start();
    await waitOutput(c, /relayed publication bench from/, 1, 10_000, 'the publication relayed to C');
    await sleep(1000);
    const rssBase = servers.map((s) => s.rssKiB());

    for (const count of split(o.subscribers, o.playerProcesses)) {
      const p = new PlayerProcess({ NIMBUS_NO_NATIVE: undefined });
      procs.push(p);
      p.send({
        cmd: 'start',
        protocol: o.protocol,
        maxRedirects: 3,
        url: `${o.protocol}://127.0.0.1:${pA}/live`,
        stream: 'bench',
        players: count,
        concurrency: Math.max(1, Math.round(o.concurrency / o.playerProcesses)),
        connectTimeoutMs: 30_000,
        maxLifetimeMs: budget + 60_000,
        progressMs: o.progressSeconds * 1000,
        sessionsPerSocket: o.sessionsPerSocket,
        // Report what joined before the wait below gives up, rather than nothing.
        joinDeadlineMs: readyTimeoutMs(o.subscribers) - 15_000,
        delayedAcks: o.delayedAcks,
        logCapacity: Math.ceil(count * (profile.fps + profile.audioFps) * (1 + o.seconds + o.drain + 2) * 1.5),
      });
    }
    const stopWatch = watchServers(o, [['A', a], ['B', b], ['C', c]], procs);
    const readies: ReadyEvent[] = await Promise.all(procs.map((p) => p.next<ReadyEvent>('ready', readyTimeoutMs(o.subscribers)))).finally(stopWatch);
    const playing = readies.reduce((s, r) => s + r.connected, 0);
    const redirects: number[] = [];
    for (const r of readies) {
      r.redirects.forEach((n, i) => {
        redirects[i] = (redirects[i] ?? 0) + n;
      });
    }
    await warmUpAndArm(procs, o.warmup);

    const videoStart = publisher.videoSeq;
    const audioStart = publisher.audioSeq;
    const t0 = performance.now();
    const cpu0 = servers.map((s) => s.cpu());
    const machine0 = readMachineCpu();
    const player0 = procs.reduce((s, p) => s + readCpuSeconds(p.pid), 0);
    await sleep(o.seconds * 1000);
    const videoEnd = publisher.videoSeq;
    const audioEnd = publisher.audioSeq;
    const cpu1 = servers.map((s) => s.cpu());
    const machine1 = readMachineCpu();
    const player1 = procs.reduce((s, p) => s + readCpuSeconds(p.pid), 0);
    const t1 = performance.now();
    const rssEnd = servers.map((s) => s.rssKiB());
    const { reports } = await collectReports(procs, { videoStart, videoEnd, audioStart, audioEnd }, o.drain);
    const seconds = (t1 - t0) / 1000;
    const publisherFrames = videoEnd - videoStart + (audioEnd - audioStart);
    const byName: Array<['A' | 'B' | 'C', ServerHandle, number]> = [['A', a, 2], ['B', b, 1], ['C', c, 0]];
    const instances: InstanceResult[] = byName.map(([name, server, index]) => {
      const host = `127.0.0.1:${server.port}`;
      const parts = reports.flatMap((r) => r.byHost.filter((h) => h.host === host));
      const histogram = new LatencyHistogram();
      for (const h of parts) {
        histogram.merge(LatencyHistogram.fromSparse(h.histogram, h.latencyMax, h.latencySum));
      }
      const subscribers = parts.reduce((s, h) => s + h.players, 0);
      const cpu = cpu1[index].user + cpu1[index].system - (cpu0[index].user + cpu0[index].system);
      return {
        name,
        port: server.port,
        subscribers,
        delivered: parts.reduce((s, h) => s + h.delivered, 0),
        expected: subscribers * publisherFrames,
        maxLostPerSubscriber: parts.reduce((m, h) => Math.max(m, h.maxLostPerPlayer), 0),
        subscribersWithLoss: parts.reduce((s, h) => s + h.playersWithLoss, 0),
        cpuPercent: (cpu / seconds) * 100,
        rssBaseKiB: rssBase[index],
        rssEndKiB: rssEnd[index],
        rssKiBPerSubscriber: subscribers > 0 ? (rssEnd[index] - rssBase[index]) / subscribers : Number.NaN,
        latencyP50: histogram.quantile(0.5),
        latencyP99: histogram.quantile(0.99),
        latencyMax: histogram.max,
      };
    });
    const [ia, ib, ic] = instances;
    const hops = [
      { hop: 'A→B', p50: ib.latencyP50 - ia.latencyP50, p99: ib.latencyP99 - ia.latencyP99 },
      { hop: 'B→C', p50: ic.latencyP50 - ib.latencyP50, p99: ic.latencyP99 - ib.latencyP99 },
    ];
    const lost = o.subscribers * publisherFrames - reports.reduce((s, r) => s + r.delivered, 0);
    const maxLost = Math.max(...reports.map((r) => r.maxLostPerPlayer));
    const withLoss = reports.reduce((s, r) => s + r.playersWithLoss, 0);
    const overflow = reports.reduce((s, r) => s + r.overflow, 0);
    const why: string[] = [];
    if (playing !== o.subscribers) {
      why.push(`${o.subscribers - playing} subscribers not playing`);
    }
    if (maxLost > 0) {
      why.push(`${withLoss} subscribers lost frames (up to ${maxLost})`);
    }
    const expectedSplit = [Math.min(o.threshold, o.subscribers), Math.min(o.threshold, Math.max(0, o.subscribers - o.threshold)), Math.max(0, o.subscribers - 2 * o.threshold)];
    if (instances.some((x, i) => x.subscribers !== expectedSplit[i])) {
      why.push(`split ${instances.map((x) => x.subscribers).join('/')} instead of ${expectedSplit.join('/')}`);
    }
    for (const x of instances) {
      if (x.subscribers > 0 && !(x.latencyP99 < o.latencyLimitMs)) {
        why.push(`latency p99 on ${x.name} ${fmt(x.latencyP99, 0)} ms`);
      }
    }
    if (overflow > 0) {
      why.push(`player log overflow (${overflow} receipts not logged)`);
    }
    return {
      kbps,
      subscribers: o.subscribers,
      playing,
      joinErrors: readies.flatMap((r) => r.errors),
      allPlayingSeconds: Math.max(...readies.map((r) => r.connectMs)) / 1000,
      redirects,
      measuredSeconds: seconds,
      publisherFrames,
      lost,
      maxLostPerSubscriber: maxLost,
      subscribersWithLoss: withLoss,
      instances,
      hops,
      playerCpuPercent: ((player1 - player0) / seconds) * 100,
      machineCpuPercent: ((machine1.busy - machine0.busy) / seconds) * 100,
      softirqPercent: ((machine1.softirq - machine0.softirq) / seconds) * 100,
      closedDuringRun: reports.reduce((s, r) => s + r.closed, 0),
      closeReasons: reports.flatMap((r) => r.closeReasons),
      holds: why.length === 0,
      why,
    };
  } finally {
    await endTrial(publisher, procs, publisherClient, [...servers].reverse().map((s) => ({ label: `nimbus on ${s.port}`, server: s })));
  }
};

const pct = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '-');

export const renderRedirection = (o: RedirectionOptions, trials: RedirectionTrial[]): string => {
  const rows = trials.flatMap((t) =>
    t.instances.map((x) => [
      t.kbps,
      x.name,
      x.subscribers,
      fmt(x.expected > 0 ? x.delivered / x.expected : Number.NaN, 4),
      x.maxLostPerSubscriber,
      pct(x.cpuPercent),
      fmt(x.rssEndKiB / 1024, 1),
      fmt(x.rssKiBPerSubscriber, 1),
      fmt(x.latencyP50, 1),
      fmt(x.latencyP99, 1),
    ]),
  );
  const summary = trials.map(
    (t) =>
      `${t.kbps} kbit/s: ${t.playing}/${t.subscribers} playing after ${fmt(t.allPlayingSeconds, 1)} s (redirected 0/1/2 times: ${t.redirects.join('/')}); frames lost ${t.lost} (max per subscriber ${t.maxLostPerSubscriber}, ${t.subscribersWithLoss} subscribers with loss); ` +
      `relay hops ${t.hops.map((h) => `${h.hop} +${fmt(h.p50, 1)} ms p50, ${fmt(h.p99, 1)} ms p99`).join('; ')}; player processes ${pct(t.playerCpuPercent)} of a core, machine ${pct(t.machineCpuPercent)} busy (softirq ${pct(t.softirqPercent)}) → ${t.holds ? 'HOLDS' : `does not hold (${t.why.join('; ')})`}${t.error !== undefined ? ` [${t.error}]` : ''}`,
  );
  const held = trials.filter((t) => t.holds).map((t) => t.kbps);
  return [
    formatTable(['kbps', 'instance', 'subscribers', 'deliv/exp', 'max lost/sub', 'cpu', 'RSS MiB', 'KiB/sub', 'p50 ms', 'p99 ms'], rows),
    '',
    ...summary,
    held.length > 0 ? `highest bitrate at which the scenario holds here: ${Math.max(...held)} kbit/s` : 'the scenario held at no bitrate tried',
    `${o.protocol.toUpperCase()} subscribers, threshold ${o.threshold}, seed relay script (test/fixtures/mesh/relay); holds = all subscribers playing, split ${o.threshold}/${o.threshold}/rest,`,
    `zero frames lost by every subscriber over the window, p99 < ${o.latencyLimitMs} ms on every instance. Latency = publisher write on A → subscriber receive; a hop's latency`,
    'is the difference between the instances\' (B − A, C − B): the mesh link, Lua onVideo/pushVideo on both sides, and the fan-out of the instance it reaches. cpu = % of one core;',
    'KiB/sub = RSS growth ÷ subscribers of that instance. Hop latencies are differences of quantiles: noisy, a p99 difference can be negative.',
  ].join('\n');
};

export interface RedirectionRun {
  benchmark: 'redirection';
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  machineAtEnd: MachineInfo;
  options: RedirectionOptions;
  nimbus: ReturnType<typeof nimbusBuild>;
  streams: Record<number, StreamProfile & { keyBytes: number; interBytes: number; audioBytes: number }>;
  trials: RedirectionTrial[];
  highestHoldingKbps: number | null;
  resultFile: string;
}

const failed = (o: RedirectionOptions, kbps: number, err: unknown): RedirectionTrial => ({
  kbps, subscribers: o.subscribers, playing: 0, joinErrors: [], allPlayingSeconds: Number.NaN, redirects: [], measuredSeconds: 0, publisherFrames: 0,
  lost: Number.NaN, maxLostPerSubscriber: Number.NaN, subscribersWithLoss: Number.NaN, instances: [], hops: [], playerCpuPercent: Number.NaN,
  machineCpuPercent: Number.NaN, softirqPercent: Number.NaN, closedDuringRun: 0, closeReasons: [], holds: false, why: ['error'], error: err instanceof Error ? err.message : String(err),
});

export const runRedirection = async (o: RedirectionOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<RedirectionRun> => {
  const { startedAt, began, machine } = startRun(log);
  const trials: RedirectionTrial[] = [];
  const streams: RedirectionRun['streams'] = {};
  log(`redirection: ${o.subscribers} ${o.protocol.toUpperCase()} subscribers, threshold ${o.threshold}, bitrates ${o.kbps.join(', ')} kbit/s, ${o.seconds} s windows`);
  for (const kbps of o.kbps) {
    const profile = defaultProfile(kbps);
    const sizes = frameSizes(profile);
    streams[kbps] = { ...profile, keyBytes: sizes.key, interBytes: sizes.inter, audioBytes: sizes.audio };
    let t: RedirectionTrial;
    try {
      t = await runTrial(o, kbps, profile);
    } catch (err) {
      t = failed(o, kbps, err);
    }
    trials.push(t);
    log(
      t.error !== undefined
        ? `  ${kbps} kbit/s: error: ${t.error}`
        : `  ${kbps} kbit/s: ${t.playing}/${t.subscribers} playing in ${fmt(t.allPlayingSeconds, 1)} s, split ${t.instances.map((x) => `${x.name} ${x.subscribers}`).join(' ')}, lost ${t.lost} (max ${t.maxLostPerSubscriber}/sub), p50 ${t.instances.map((x) => `${x.name} ${fmt(x.latencyP50, 1)}`).join(' ')} ms, p99 ${t.instances.map((x) => `${x.name} ${fmt(x.latencyP99, 1)}`).join(' ')} ms, cpu ${t.instances.map((x) => `${x.name} ${pct(x.cpuPercent)}`).join(' ')}, players ${pct(t.playerCpuPercent)}, box ${pct(t.machineCpuPercent)} (si ${pct(t.softirqPercent)})${t.holds ? '' : ` — does not hold: ${t.why.join('; ')}`}${t.joinErrors.length > 0 ? `; join errors: ${t.joinErrors[0]}` : ''}${t.closedDuringRun > 0 ? `; ${t.closedDuringRun} closed (${t.closeReasons[0]})` : ''}`,
    );
    if (!t.holds && o.stopOnFail) {
      break;
    }
  }
  const held = trials.filter((t) => t.holds).map((t) => t.kbps);
  const run: Omit<RedirectionRun, 'resultFile'> = {
    benchmark: 'redirection',
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - began) / 1000),
    machine,
    machineAtEnd: machineInfo(),
    options: o,
    nimbus: nimbusBuild(),
    streams,
    trials,
    highestHoldingKbps: held.length > 0 ? Math.max(...held) : null,
  };
  return { ...run, resultFile: writeResult(o.outDir, 'redirection', startedAt, run) };
};

export const main = (argv: string[]): Promise<number> =>
  benchMain('redirection', argv, parseRedirectionArgs, runRedirection, (o, run) => {
    const parts: string[] = [];
    parts.push(
      `\n${machineLine('redirection', run.machine, run.machineAtEnd, run.durationSeconds)}\n` +
        `${nimbusLine(run.nimbus)}; three instances, ${o.subscribers} ${o.protocol.toUpperCase()} subscribers, threshold ${o.threshold}\n\n`,
    );
    parts.push(`${renderRedirection(o, run.trials)}\n\nJSON: ${run.resultFile}\n`);
    return parts.join('');
  });

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
