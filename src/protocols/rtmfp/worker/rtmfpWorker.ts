/**
 * A media worker (architecture.md §2): one UDP socket on its own port and the data halves of the
 * RTMFP sessions on it, end to end. Control events go to the main thread as small messages;
 * frames come in once per frame for all the worker's subscribers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadKernels } from '../../../kernels/index.js';
import { type LogLevel, Logger, setLogLevel, setLogSink } from '../../../util/Logger.js';
import { type DataPlaneControl, type DataPlaneOptions, RtmfpDataPlane } from '../RtmfpDataPlane.js';
import type { PeerDecision, UrlDecision } from '../RtmfpHandshake.js';
import type { RtmfpSession } from '../RtmfpSession.js';
import { type FromWorker, type SessionEvents, type ToWorker, asBuffer } from '../SessionLink.js';

interface WorkerSetup {
  index: number;
  logLevel: number;
  options: DataPlaneOptions;
}

const port = parentPort!;
const setup = workerData as WorkerSetup;
const post = (message: FromWorker, transfer?: ArrayBuffer[]): void => {
  port.postMessage(message, transfer);
};

setLogLevel(setup.logLevel as LogLevel);
// Log lines go to the main thread's sink (files, test capture), not straight to stderr.
setLogSink((level, scope, message) => post({ op: 'log', level, message: `[${scope}] ${message}` }));
const log = new Logger(`rtmfp-worker-${setup.index}`);

/** Copies `bytes` into an ArrayBuffer of its own, so it can be transferred instead of cloned. */
const detached = (bytes: Uint8Array): Uint8Array => {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
};

/** Each session's events become messages to the main thread. */
const eventsFor = (sid: number): SessionEvents => ({
  onTc(streamId, type, timestamp, body) {
    const copy = detached(body);
    post({ op: 'tc', sid, streamId, type, timestamp, body: copy }, [copy.buffer as ArrayBuffer]);
  },
  onGroupMessage(flowId, message) {
    post({ op: 'group', sid, flowId, message: detached(message) });
  },
  onGroupFlowClosed(flowId) {
    post({ op: 'groupClosed', sid, flowId });
  },
  onAddressChanged(host, p) {
    post({ op: 'address', sid, host, port: p });
  },
  onClosed(reason) {
    post({ op: 'closed', sid, reason });
  },
});

const control: DataPlaneControl = {
  onSessionOpened(session: RtmfpSession): SessionEvents {
    const { localSsid, peerId } = session.keys;
    post({ op: 'opened', sid: localSsid, peerId: detached(peerId), host: session.address.host, port: session.address.port });
    return eventsFor(localSsid);
  },
  onPeerHello(decision: PeerDecision, host: string, p: number): void {
    post({ op: 'peerHello', peerId: detached(decision.peerId), tag: detached(decision.tag), epd: detached(decision.epd), host, port: p });
  },
  onUrlHello(_decision: UrlDecision): void {
    // Workers answer URL IHellos themselves (urlDecisions is off): the front door ran the hook.
  },
};

const plane = new RtmfpDataPlane(loadKernels(), log, setup.options, control);

const sessionOf = (sid: number): RtmfpSession | undefined => plane.sessions.get(sid);

port.on('message', (message: ToWorker) => {
  switch (message.op) {
    case 'tc': {
      sessionOf(message.sid)?.writeTc(message.streamId, asBuffer(message.message));
      return;
    }
    case 'frames': {
      for (const batch of message.frames) {
        const bytes = asBuffer(batch.message);
        const { targets } = batch;
        for (let i = 0; i + 1 < targets.length; i += 2) {
          sessionOf(targets[i])?.writeFrame(targets[i + 1], bytes, batch.kind, batch.config);
        }
      }
      return;
    }
    case 'finishStream': {
      sessionOf(message.sid)?.finishStream(message.streamId);
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
      sessionOf(message.sid)?.close(message.reason, message.graceful);
      return;
    }
    case 'sendStartup': {
      plane.sendTo(asBuffer(message.datagram), message.host, message.port);
      return;
    }
    case 'stop': {
      void plane.stop().then(() => port.close());
      return;
    }
  }
});

// Queue sizes feed the main thread's drop policy (a subscriber that cannot keep up).
const queues = setInterval(() => {
  const sids: number[] = [];
  const bytes: number[] = [];
  for (const [sid, session] of plane.sessions) {
    let queued = 0;
    for (const flow of session.sendFlows) {
      queued += flow.queuedBytes;
    }
    if (queued > 0) {
      sids.push(sid);
      bytes.push(queued);
    }
  }
  post({ op: 'queues', sids, bytes });
}, 100);
queues.unref();

void plane.start().then(
  (address) => post({ op: 'listening', port: address.port }),
  (err: unknown) => {
    log.error(`cannot bind: ${String(err)}`);
    process.exit(1);
  },
);
