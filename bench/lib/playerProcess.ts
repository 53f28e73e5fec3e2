/**
 * A player process for the fan-out benchmark: N light RTMP players (RtmpClient, no decoding) in one
 * process, driven over IPC by the benchmark (see playerIpc.ts). Each player counts the frames of
 * the measurement window it receives (by sequence number, so late or lost frames are exact) and
 * their latency (send time written by the publisher vs receive time here). Run with
 * `child_process.fork(..., { execArgv: ['--import', 'tsx'] })`; it exits by itself when its parent
 * goes away or after `maxLifetimeMs`.
 */
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { PlayerCommand, PlayerEvent, ReportEvent, StartCommand } from './playerIpc.js';
import { LatencyHistogram } from './stats.js';
import { VIDEO, readStamp, wallMs, type Stamp } from './stream.js';

const send = (event: PlayerEvent): void => {
  process.send?.(event);
};

const NONE = 0xffffffff;
let videoStart = NONE;
let audioStart = NONE;
let videoEnd = NONE;
let audioEnd = NONE;

let clients: RtmpClient[] = [];
let lastVideo = new Float64Array(0);
let lastAudio = new Float64Array(0);
let delivered = new Uint32Array(0);
let connectedCount = 0;
let total = 0;
let duplicates = 0;
let messages = 0;
let closed = 0;
const closeReasons: string[] = [];
let stopping = false;
const histogram = new LatencyHistogram();
const stamp: Stamp = { type: 0, seq: 0, sentAt: 0 };

const onMedia = (player: number, type: number, payload: Buffer): void => {
  messages++;
  if (!readStamp(type, payload, stamp)) {
    return;
  }
  const now = wallMs();
  const seq = stamp.seq;
  if (type === VIDEO) {
    if (seq < videoStart || seq >= videoEnd) {
      return;
    }
    if (seq <= lastVideo[player]) {
      duplicates++;
      return;
    }
    lastVideo[player] = seq;
  } else {
    if (seq < audioStart || seq >= audioEnd) {
      return;
    }
    if (seq <= lastAudio[player]) {
      duplicates++;
      return;
    }
    lastAudio[player] = seq;
  }
  delivered[player]++;
  total++;
  histogram.add(now - stamp.sentAt);
};

const connectOne = async (cmd: StartCommand, index: number): Promise<void> => {
  const client = new RtmpClient({ onMedia: (type, _timestamp, payload) => onMedia(index, type, payload) });
  clients[index] = client;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no Play.Start within ${cmd.connectTimeoutMs} ms`)), cmd.connectTimeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect(cmd.url);
        await client.play(cmd.stream);
      })(),
      timeout,
    ]);
  } catch (err) {
    client.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  connectedCount++;
  client.on('close', (err: Error | null) => {
    if (!stopping) {
      closed++;
      if (closeReasons.length < 5) {
        closeReasons.push(err?.message ?? 'closed by the server');
      }
    }
  });
};

const start = async (cmd: StartCommand): Promise<void> => {
  setTimeout(() => process.exit(3), cmd.maxLifetimeMs).unref();
  clients = new Array<RtmpClient>(cmd.players);
  lastVideo = new Float64Array(cmd.players).fill(-1);
  lastAudio = new Float64Array(cmd.players).fill(-1);
  delivered = new Uint32Array(cmd.players);
  const began = performance.now();
  let next = 0;
  let failed = 0;
  const errors: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < cmd.players) {
      const index = next++;
      try {
        await connectOne(cmd, index);
      } catch (err) {
        failed++;
        if (errors.length < 5) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, cmd.players)) }, worker));
  send({ ev: 'ready', connected: connectedCount, failed, errors, connectMs: performance.now() - began });
};

const report = (): ReportEvent => {
  const perPlayerExpected = videoStart === NONE || videoEnd === NONE ? 0 : videoEnd - videoStart + (audioEnd - audioStart);
  let minPlayerRatio = Number.POSITIVE_INFINITY;
  let playersBelow99 = 0;
  for (let i = 0; i < delivered.length; i++) {
    const ratio = perPlayerExpected === 0 ? 0 : delivered[i] / perPlayerExpected;
    minPlayerRatio = Math.min(minPlayerRatio, ratio);
    if (ratio < 0.99) {
      playersBelow99++;
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
    histogram: histogram.toSparse(),
    latencyMax: histogram.max,
    latencySum: histogram.sum,
    closed,
    closeReasons,
    messages,
  };
};

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: PlayerCommand) => {
  switch (msg.cmd) {
    case 'start':
      start(msg).catch((err: unknown) => send({ ev: 'error', message: String(err) }));
      return;
    case 'window':
      videoStart = msg.videoStart;
      audioStart = msg.audioStart;
      return;
    case 'end':
      videoEnd = msg.videoEnd;
      audioEnd = msg.audioEnd;
      return;
    case 'report':
      send(report());
      return;
    case 'stop':
      stopping = true;
      for (const c of clients) {
        c?.close();
      }
      setTimeout(() => process.exit(0), 100);
      return;
  }
});
