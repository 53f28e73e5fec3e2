/**
 * A media worker (architecture.md §2): the data halves of RTMP sessions handed over after
 * `connect` (WorkerRtmp), and, when it has one, a UDP socket on its own port with the RTMFP
 * sessions on it, end to end; the publications they play and publish are mirrored here
 * (WorkerMedia). Control events go to the main thread through the channel (MediaChannel.ts);
 * frames come in once per frame for all the worker's subscribers. Handshake DH is asked of the
 * main thread's piscina pool, so a burst of handshakes never stalls this thread's sessions.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorFromCode, errorMessage } from '../../errors.js';
import { loadKernels, loadSocketHandover } from '../../kernels/index.js';
import { type LogLevel, Logger, setLogLevel, setLogSink } from '../../util/Logger.js';
import type { ComputeKeys } from '../rtmfp/crypto/computeKeys.js';
import { type DataPlaneControl, RtmfpDataPlane } from '../rtmfp/RtmfpDataPlane.js';
import type { PeerDecision, UrlDecision } from '../rtmfp/RtmfpHandshake.js';
import type { RtmfpSession } from '../rtmfp/RtmfpSession.js';
import type { SessionEvents } from '../rtmfp/SessionLink.js';
import type { SessionMedia } from '../flash/SessionMedia.js';
import type { WorkerSetup } from './MediaWorkerPool.js';
import { WorkerMedia } from './WorkerMedia.js';
import { QueueBudget } from '../../media/QueueBudget.js';
import { WorkerRtmp } from './WorkerRtmp.js';
import { WorkerTraffic } from './WorkerTraffic.js';
import { WireContext } from '../WireContext.js';
import { TRAFFIC_REPORT_MS, type TrafficSource } from '../SessionTraffic.js';
import { type FromWorker, MediaChannel, type MainRequests, type ToWorker, type WorkerRequests, asBuffer, wireBytes } from './MediaChannel.js';

const setup = workerData as WorkerSetup;
setLogLevel(setup.logLevel as LogLevel);
MediaChannel.checkPosts = setup.checkPosts;
const log = new Logger(`media-worker-${setup.index}`);

let plane: RtmfpDataPlane | null = null;
let rtmp: WorkerRtmp | null = null;
const sessionOf = (sid: number): RtmfpSession | undefined => plane?.sessions.get(sid);

const onMessage = (message: ToWorker): void => {
  if (rtmp?.handle(message) === true) {
    return;
  }
  switch (message.op) {
    case 'tc': {
      sessionOf(message.sid)?.writeTc(message.streamId, asBuffer(message.message));
      return;
    }
    case 'writerFlow': {
      sessionOf(message.sid)?.writeFlow(message.writerId, asBuffer(message.message), message.reliable);
      return;
    }
    case 'writerFlowClose': {
      sessionOf(message.sid)?.closeFlow(message.writerId);
      return;
    }
    case 'group': {
      sessionOf(message.sid)?.writeGroup(message.flowId, asBuffer(message.message));
      return;
    }
    case 'chunk': {
      sessionOf(message.sid)?.queueChunk(asBuffer(message.chunk));
      return;
    }
    case 'close': {
      sessionOf(message.sid)?.close(errorFromCode(message.code, message.message), message.graceful);
      return;
    }
    case 'sendStartup': {
      plane?.sendTo(asBuffer(message.datagram), message.host, message.port);
      return;
    }
    default: {
      media.handle(message);
    }
  }
};

const channel = new MediaChannel<FromWorker, ToWorker, MainRequests, WorkerRequests>(
  parentPort!,
  onMessage,
  {
    stop: async () => {
      rtmp?.stop();
      await plane?.stop();
      return null;
    },
  },
  (err) => log.error(`channel: ${errorMessage(err)}`),
);

/** Sends `message` with its byte arrays moved (each made by `wireBytes`). */
const post = (message: FromWorker, ...bytes: Uint8Array[]): void => {
  channel.send(message, bytes.map((b) => b.buffer as ArrayBuffer));
};

const media = new WorkerMedia(
  setup.feeds,
  { ...setup.limits, budget: setup.queueBudgetBytes > 0 ? new QueueBudget(setup.queueBudgetBytes) : null },
  (message, moved) => channel.send(message, moved),
  (sid) => sessionOf(sid)?.media ?? rtmp?.mediaOf(sid),
  function* (): Generator<[number, SessionMedia]> {
    for (const [sid, session] of plane?.sessions ?? []) {
      yield [sid, session.media];
    }
    for (const [sid, session] of rtmp?.sessions ?? []) {
      yield [sid, session.media];
    }
  },
);

// Log lines go to the main thread's sink (files, test capture), not straight to stderr.
setLogSink((level, scope, message) => post({ op: 'log', level, message: `[${scope}] ${message}` }));

/** Each session's events become messages to the main thread. */
const eventsFor = (sid: number): SessionEvents => ({
  onTc(streamId, type, timestamp, body) {
    const copy = wireBytes(body);
    post({ op: 'tc', sid, streamId, type, timestamp, body: copy }, copy);
  },
  onGroupMessage(flowId, message) {
    const copy = wireBytes(message);
    post({ op: 'group', sid, flowId, message: copy }, copy);
  },
  onGroupFlowClosed(flowId) {
    post({ op: 'groupClosed', sid, flowId });
  },
  onAddressChanged(host, p) {
    post({ op: 'address', sid, host, port: p });
  },
  onClosed(cause) {
    post({ op: 'closed', sid, code: cause.code, message: cause.message });
  },
});

const control: DataPlaneControl = {
  onSessionOpened(session: RtmfpSession): SessionEvents {
    const { localSsid, peerId } = session.keys;
    const id = wireBytes(peerId);
    post({ op: 'opened', sid: localSsid, peerId: id, host: session.address.host, port: session.address.port }, id);
    return eventsFor(localSsid);
  },
  onPeerHello(decision: PeerDecision, host: string, p: number): void {
    const [peerId, tag, epd] = [wireBytes(decision.peerId), wireBytes(decision.tag), wireBytes(decision.epd)];
    post({ op: 'peerHello', peerId, tag, epd, host, port: p }, peerId, tag, epd);
  },
  onUrlHello(_decision: UrlDecision): void {
    // Workers answer URL IHellos themselves (urlDecisions is off): the front door ran the hook.
  },
};

/** DH and key derivation in the main thread's piscina pool. */
const computeKeys: ComputeKeys = async (request) => {
  const [clientPublicKey, skic] = [wireBytes(request.clientPublicKey), wireBytes(request.skic)];
  const reply = await channel.request('computeKeys', { groupId: request.groupId, clientPublicKey, skic }, [
    clientPublicKey.buffer as ArrayBuffer,
    skic.buffer as ArrayBuffer,
  ]);
  return reply === null
    ? null
    : { skrc: asBuffer(reply.skrc), encryptKey: asBuffer(reply.encryptKey), decryptKey: asBuffer(reply.decryptKey), options: reply.options };
};

const handover = loadSocketHandover();
/** This thread's packet-path state, for its RTMP sessions and its RTMFP data plane. */
const wire = new WireContext();
rtmp = new WorkerRtmp(setup.rtmp, log, (message, moved) => channel.send(message, moved), typeof handover === 'string' ? null : handover, wire);
plane = setup.rtmfp === null ? null : new RtmfpDataPlane(loadKernels(), log, { ...setup.rtmfp, computeKeys }, control, wire);

// Drop counts for the scripts' listener.droppedFrames (the drop decisions themselves are taken here).
const drops = setInterval(() => media.reportDrops(), 1000);
drops.unref();

// The sessions' traffic for their Clients: one message a second for all sessions whose numbers changed.
const traffic = new WorkerTraffic(
  (message) => channel.send(message),
  function* (): Generator<[number, TrafficSource]> {
    yield* plane?.sessions ?? [];
    yield* rtmp?.sessions ?? [];
  },
);
const trafficTimer = setInterval(() => traffic.report(), TRAFFIC_REPORT_MS);
trafficTimer.unref();

if (plane === null) {
  post({ op: 'listening', port: 0 });
} else {
  plane.start().then(
    (address) => post({ op: 'listening', port: address.port }),
    (err: unknown) => {
      log.error(`cannot bind: ${String(err)}`);
      process.exit(1);
    },
  );
}
