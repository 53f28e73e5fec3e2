/**
 * A player process for the fan-out benchmarks: N light RTMP or RTMFP players (RtmpClient, or
 * RtmfpClient with one UDP socket each; no decoding) in one
 * process, driven over IPC by the benchmark (see playerIpc.ts). Each player counts the frames of
 * it receives once armed (by sequence number, so late or lost frames are exact) and their latency
 * (send time written by the publisher vs receive time here); the report picks the window's frames
 * by sequence number, so it does not matter when the IPC commands are read. Run with
 * `child_process.fork(..., { execArgv: ['--import', 'tsx'] })`; it exits by itself when its parent
 * goes away or after `maxLifetimeMs`. With `maxRedirects`, a player refused with NetStream.Play.Failed
 * connects again to the last word of the description, as the seed's client does (mesh redirection),
 * and the report groups the players by the server they ended on.
 */
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmfpClientSocket } from '../../src/client/rtmfp/RtmfpClientSocket.js';
import { RtmpCallError, RtmpClient } from '../../src/client/RtmpClient.js';
import { HttpFlvPlayer } from './httpFlvPlayer.js';
import type { HostReport, PlayerCommand, PlayerEvent, ReportCommand, ReportEvent, StartCommand } from './playerIpc.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LogLevel, setLogLevel } from '../../src/util/Logger.js';
import { LatencyHistogram } from './stats.js';
import { VIDEO, readStamp, wallMs, type Stamp } from './stream.js';

setLogLevel(LogLevel.WARN);

const send = (event: PlayerEvent): void => {
  process.send?.(event);
};

type Player = RtmpClient | RtmfpClient | HttpFlvPlayer;

let clients: Player[] = [];
/** Index into `hostNames` of the server each player ended on. */
let playerHost = new Uint16Array(0);
const hostNames: string[] = [];
const redirectCounts: number[] = [];
let lastVideo = new Float64Array(0);
let lastAudio = new Float64Array(0);
let connectedCount = 0;
let duplicates = 0;
let messages = 0;
let closed = 0;
const closeReasons: string[] = [];
let stopping = false;
const stamp: Stamp = { type: 0, seq: 0, sentAt: 0 };

/** The receipt log: one entry per stamped frame received while armed. Audio keys have the top bit set. */
const AUDIO_BIT = 0x80000000;
let armed = false;
let logged = 0;
let overflow = 0;
let logKey = new Uint32Array(0);
let logLatency = new Float32Array(0);
let logPlayer = new Uint32Array(0);

const onMedia = (player: number, type: number, payload: Buffer): void => {
  messages++;
  if (!armed || !readStamp(type, payload, stamp)) {
    return;
  }
  const now = wallMs();
  const seq = stamp.seq;
  if (type === VIDEO) {
    if (seq <= lastVideo[player]) {
      duplicates++;
      return;
    }
    lastVideo[player] = seq;
  } else {
    if (seq <= lastAudio[player]) {
      duplicates++;
      return;
    }
    lastAudio[player] = seq;
  }
  if (logged >= logKey.length) {
    overflow++;
    return;
  }
  logKey[logged] = type === VIDEO ? seq : (seq | AUDIO_BIT) >>> 0;
  logLatency[logged] = now - stamp.sentAt;
  logPlayer[logged] = player;
  logged++;
};

const joinTimes: number[] = [];
/** Shared UDP sockets of the RTMFP clients (StartCommand.sessionsPerSocket). */
const sockets: RtmfpClientSocket[] = [];
let opening: Promise<RtmfpClientSocket> | null = null;

/** A shared socket with room for one more client (opened when all are full). */
const sharedSocket = async (perSocket: number): Promise<RtmfpClientSocket> => {
  for (;;) {
    const free = sockets.find((s) => s.size < perSocket);
    if (free !== undefined) {
      return free;
    }
    if (opening === null) {
      opening = RtmfpClientSocket.open().then((s) => {
        sockets.push(s);
        opening = null;
        return s;
      });
    }
    await opening;
  }
};

/** Joins in flight, by phase (connect = handshake + NetConnection connect; play = createStream + play). */
let inConnect = 0;
let inPlay = 0;
let failedCount = 0;
let redirectsDone = 0;
/** Clients in the connect phase (to tell a handshake in progress from a NetConnection connect awaiting its answer). */
const connecting = new Set<Player>();
let lastError = '';

/** The seed's client: the host is the last word of the Play.Failed description. */
const redirectTarget = (err: unknown): string | null => {
  if (!(err instanceof RtmpCallError) || err.info.code !== 'NetStream.Play.Failed') {
    return null;
  }
  const words = String(err.info.description ?? '').split(' ');
  const last = words[words.length - 1];
  return last === undefined || last === '' ? null : last;
};

const hostIndex = (url: string): number => {
  const u = new URL(url);
  const host = `${u.hostname}:${u.port}`;
  let i = hostNames.indexOf(host);
  if (i < 0) {
    i = hostNames.push(host) - 1;
  }
  return i;
};

const connectOne = async (cmd: StartCommand, index: number): Promise<void> => {
  const began = performance.now();
  const onPlayerMedia = (type: number, _timestamp: number, payload: Buffer): void => onMedia(index, type, payload);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no Play.Start within ${cmd.connectTimeoutMs} ms`)), cmd.connectTimeoutMs);
  });
  let url = cmd.url;
  let redirects = 0;
  let client: Player | undefined;
  try {
    for (;;) {
      const perSocket = cmd.sessionsPerSocket ?? 0;
      client =
        cmd.protocol === 'http-flv'
          ? new HttpFlvPlayer({ onMedia: onPlayerMedia })
          : cmd.protocol === 'rtmfp'
          ? new RtmfpClient({ onMedia: onPlayerMedia, delayedAcks: cmd.delayedAcks === true, socket: perSocket > 0 ? await sharedSocket(perSocket) : undefined })
          : new RtmpClient({ onMedia: onPlayerMedia });
      clients[index] = client;
      const c = client;
      try {
        await Promise.race([
          (async () => {
            inConnect++;
            connecting.add(c);
            try {
              await c.connect(url);
            } finally {
              inConnect--;
              connecting.delete(c);
            }
            inPlay++;
            try {
              await c.play(cmd.stream);
            } finally {
              inPlay--;
            }
          })(),
          timeout,
        ]);
        break;
      } catch (err) {
        c.close();
        const host = redirectTarget(err);
        if (host === null || redirects >= (cmd.maxRedirects ?? 0)) {
          throw err;
        }
        redirects++;
        redirectsDone++;
        const u = new URL(url);
        url = `${u.protocol}//${host}${u.pathname}`;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  connectedCount++;
  redirectCounts[redirects] = (redirectCounts[redirects] ?? 0) + 1;
  playerHost[index] = hostIndex(url);
  joinTimes.push(performance.now() - began);
  client.on('close', (err: Error | null) => {
    if (!stopping) {
      closed++;
      if (closeReasons.length < 5) {
        closeReasons.push(err?.message ?? 'closed by the server');
      }
    }
  });
};

/** Progress lines on stderr every `cmd.progressMs` (see StartCommand.progressMs). */
const startProgress = (cmd: StartCommand, started: () => number): void => {
  const every = cmd.progressMs ?? 0;
  if (every <= 0) {
    return;
  }
  const began = performance.now();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let cpu = process.cpuUsage();
  let at = began;
  let lastMessages = messages;
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const cpuPct = ((used.user + used.system) / 1000 / (now - at)) * 100;
    const rate = ((messages - lastMessages) * 1000) / (now - at);
    cpu = process.cpuUsage();
    at = now;
    lastMessages = messages;
    process.stderr.write(
      `[players ${process.pid} +${((now - began) / 1000).toFixed(1)}s] started ${started()}/${cmd.players} playing ${connectedCount} failed ${failedCount} ` +
        `in flight: connect ${inConnect} (handshaken ${[...connecting].filter((c) => c instanceof RtmfpClient && c.session !== null).length}) play ${inPlay}; redirections ${redirectsDone}; closed ${closed}; media ${rate.toFixed(0)}/s; ` +
        `${sockets.length > 0 ? `${sockets.length} shared sockets (rx ${sockets.reduce((a, x) => a + x.stats.received, 0)}, ${sockets.reduce((a, x) => a + x.stats.drained, 0)} by recvmmsg; tx ${sockets.reduce((a, x) => a + x.stats.sent, 0)}, ${sockets.reduce((a, x) => a + x.stats.batched, 0)} by sendmmsg; unmatched ${sockets.reduce((a, x) => a + x.stats.unmatched, 0)}); ` : ''}` +
        `cpu ${cpuPct.toFixed(0)}%; loop delay p50 ${(delay.percentile(50) / 1e6).toFixed(0)} max ${(delay.max / 1e6).toFixed(0)} ms; rss ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MiB\n`,
    );
    delay.reset();
    if (lastError !== '') {
      process.stderr.write(`[players ${process.pid}] last join error: ${lastError}\n`);
      lastError = '';
    }
  }, every);
  timer.unref();
  stopProgress = () => clearInterval(timer);
};
let stopProgress = (): void => {};

const start = async (cmd: StartCommand): Promise<void> => {
  setTimeout(() => process.exit(3), cmd.maxLifetimeMs).unref();
  clients = new Array<Player>(cmd.players);
  playerHost = new Uint16Array(cmd.players).fill(0xffff);
  lastVideo = new Float64Array(cmd.players).fill(-1);
  lastAudio = new Float64Array(cmd.players).fill(-1);
  logKey = new Uint32Array(cmd.logCapacity);
  logLatency = new Float32Array(cmd.logCapacity);
  logPlayer = new Uint32Array(cmd.logCapacity);
  const began = performance.now();
  let next = 0;
  const errors: string[] = [];
  startProgress(cmd, () => next);
  const worker = async (): Promise<void> => {
    while (next < cmd.players) {
      const index = next++;
      try {
        await connectOne(cmd, index);
      } catch (err) {
        failedCount++;
        lastError = err instanceof Error ? err.message : String(err);
        if (errors.length < 5) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }
    }
  };
  const all = Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, cmd.players)) }, worker));
  let pending = 0;
  if (cmd.joinDeadlineMs !== undefined && cmd.joinDeadlineMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), cmd.joinDeadlineMs);
    });
    const outcome = await Promise.race([all.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      // Joins in flight go on (and count if they end playing), but none starts any more.
      pending = cmd.players - connectedCount - failedCount;
      next = cmd.players;
      errors.push(`${pending} joins not finished within ${cmd.joinDeadlineMs} ms`);
    }
  } else {
    await all;
  }
  const sorted = [...joinTimes].sort((a, b) => a - b);
  const at = (q: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  send({
    ev: 'ready',
    connected: connectedCount,
    failed: failedCount,
    pending,
    errors,
    connectMs: performance.now() - began,
    joinP50: at(0.5),
    joinP99: at(0.99),
    joinMax: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
    redirects: Array.from({ length: redirectCounts.length }, (_, i) => redirectCounts[i] ?? 0),
    hosts: Object.fromEntries(hostNames.map((h, i) => [h, playerHost.filter((x) => x === i).length])),
  });
};

const report = (cmd: ReportCommand): ReportEvent => {
  armed = false;
  stopProgress();
  const videoCount = Math.max(0, cmd.videoEnd - cmd.videoStart);
  const audioCount = Math.max(0, cmd.audioEnd - cmd.audioStart);
  const perPlayerExpected = videoCount + audioCount;
  const delivered = new Uint32Array(clients.length);
  const histogram = new LatencyHistogram();
  const perHost = hostNames.map(() => new LatencyHistogram());
  const first = new LatencyHistogram();
  const last = new LatencyHistogram();
  const tenth = Math.max(1, Math.floor(videoCount / 10));
  let total = 0;
  for (let i = 0; i < logged; i++) {
    const key = logKey[i];
    const inWindow =
      key >= AUDIO_BIT
        ? key - AUDIO_BIT >= cmd.audioStart && key - AUDIO_BIT < cmd.audioEnd
        : key >= cmd.videoStart && key < cmd.videoEnd;
    if (inWindow) {
      delivered[logPlayer[i]]++;
      total++;
      histogram.add(logLatency[i]);
      perHost[playerHost[logPlayer[i]]]?.add(logLatency[i]);
      if (key < AUDIO_BIT) {
        if (key < cmd.videoStart + tenth) {
          first.add(logLatency[i]);
        } else if (key >= cmd.videoEnd - tenth) {
          last.add(logLatency[i]);
        }
      }
    }
  }
  let minPlayerRatio = Number.POSITIVE_INFINITY;
  let playersBelow99 = 0;
  let maxLost = 0;
  let withLoss = 0;
  const hosts: HostReport[] = hostNames.map((host, h) => ({
    host,
    players: 0,
    delivered: 0,
    maxLostPerPlayer: 0,
    playersWithLoss: 0,
    histogram: perHost[h].toSparse(),
    latencyMax: perHost[h].max,
    latencySum: perHost[h].sum,
  }));
  for (let i = 0; i < delivered.length; i++) {
    const ratio = perPlayerExpected === 0 ? 0 : delivered[i] / perPlayerExpected;
    minPlayerRatio = Math.min(minPlayerRatio, ratio);
    if (ratio < 0.99) {
      playersBelow99++;
    }
    const lost = Math.max(0, perPlayerExpected - delivered[i]);
    maxLost = Math.max(maxLost, lost);
    withLoss += lost > 0 ? 1 : 0;
    const host = hosts[playerHost[i]];
    if (host !== undefined) {
      host.players++;
      host.delivered += delivered[i];
      host.maxLostPerPlayer = Math.max(host.maxLostPerPlayer, lost);
      host.playersWithLoss += lost > 0 ? 1 : 0;
    }
  }
  return {
    ev: 'report',
    players: delivered.length,
    connected: connectedCount,
    delivered: total,
    perPlayerExpected,
    minPlayerRatio: delivered.length === 0 ? 0 : minPlayerRatio,
    playersBelow99,
    duplicates,
    overflow,
    histogram: histogram.toSparse(),
    latencyMax: histogram.max,
    latencySum: histogram.sum,
    latencyP50First: first.quantile(0.5),
    latencyP50Last: last.quantile(0.5),
    closed,
    closeReasons,
    messages,
    maxLostPerPlayer: maxLost,
    playersWithLoss: withLoss,
    byHost: hosts,
  };
};

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: PlayerCommand) => {
  switch (msg.cmd) {
    case 'start':
      start(msg).catch((err: unknown) => send({ ev: 'error', message: String(err) }));
      return;
    case 'arm':
      armed = true;
      return;
    case 'report':
      send(report(msg));
      return;
    case 'stop':
      stopping = true;
      for (const c of clients) {
        c?.close();
      }
      for (const s of sockets) {
        s.close();
      }
      setTimeout(() => process.exit(0), 100);
      return;
  }
});
