/**
 * The load process of the RTMFP handshake benchmark: `lanes` UDP sockets, each running handshakes
 * back to back (one at a time per lane) against a server until `count` handshakes were started or
 * `seconds` passed, whichever comes first. A handshake is what a Flash client does before its first
 * NetConnection command: IHello (following a Redirect to a media worker), RHello with the cookie,
 * IIKeying with a fresh identity (certificate + DH group 2 key), RIKeying, session keys. In
 * `connect` mode the lane also sends NetConnection `connect` and waits for its `_result` (a whole
 * RtmfpClient.connect). Either way the session is then closed (0x0C), so the server does not
 * accumulate sessions. Run with `fork(..., { execArgv: ['--import', 'tsx'] })`.
 */
import { type Socket, createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { type ClientSessionEvents, RtmfpClientSession } from '../../src/client/rtmfp/RtmfpClientSession.js';
import { type InitiatorResult, RtmfpIdentity, RtmfpInitiator } from '../../src/client/rtmfp/RtmfpInitiator.js';
import { loadKernels } from '../../src/kernels/index.js';
import { AddressOrigin, type RtmfpAddress } from '../../src/protocols/rtmfp/address.js';
import { epdForUrl } from '../../src/protocols/rtmfp/epd.js';
import { LogLevel, Logger, setLogLevel } from '../../src/util/Logger.js';
import { LatencyHistogram } from './stats.js';

setLogLevel(LogLevel.WARN);

export interface HandshakeStart {
  cmd: 'start';
  url: string;
  mode: 'handshake' | 'connect';
  lanes: number;
  /** At most this many handshakes are started (all lanes together). */
  count: number;
  /** No handshake is started after this many seconds. */
  seconds: number;
  /** One handshake gives up after this long (the initiator itself retries after 1.5 s, 3 s...). */
  timeoutMs: number;
  maxLifetimeMs: number;
}

export interface HandshakeDone {
  ev: 'done';
  started: number;
  completed: number;
  failed: number;
  errors: string[];
  /** From the first IHello to the last completion, ms. */
  elapsedMs: number;
  histogram: number[];
  latencyMax: number;
  latencySum: number;
}

export type HandshakeCommand = HandshakeStart | { cmd: 'stop' };
export type HandshakeEvent = HandshakeDone | { ev: 'error'; message: string };

const kernels = loadKernels();
const log = new Logger('bench-handshake');

/** Events of a session we only close. */
const quiet: ClientSessionEvents = {
  onCommand: () => undefined,
  onMedia: () => undefined,
  onUserControl: () => undefined,
  onForwardedHello: () => undefined,
  onRawMessage: () => undefined,
  onClosed: () => undefined,
  requestFlush: (s) => s.output.flush(Date.now(), false),
};

/** One lane: a socket and the initiator running on it. */
class Lane {
  private initiator: RtmfpInitiator | null = null;
  constructor(private readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => {
      this.initiator?.receive(Buffer.from(msg), { host: rinfo.address, port: rinfo.port, origin: AddressOrigin.OBSERVED });
    });
  }

  static async open(): Promise<Lane> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve());
    });
    socket.on('error', () => undefined);
    return new Lane(socket);
  }

  handshake(epd: Buffer, to: RtmfpAddress, timeoutMs: number): Promise<InitiatorResult> {
    return new Promise((resolve, reject) => {
      const send = (d: Buffer, a: RtmfpAddress): void => this.socket.send(d, a.port, a.host);
      const timer = setTimeout(() => {
        this.initiator?.cancel();
        this.initiator = null;
        reject(new Error(`no RIKeying within ${timeoutMs} ms`));
      }, timeoutMs);
      const initiator = new RtmfpInitiator(kernels, new RtmfpIdentity(), epd, to, send, (result) => {
        clearTimeout(timer);
        this.initiator = null;
        if (result instanceof Error) {
          reject(result);
        } else {
          // Close the session at once (0x0C): the server frees it.
          new RtmfpClientSession(kernels, log, result, result.address, send, quiet).close();
          resolve(result);
        }
      });
      this.initiator = initiator;
      initiator.start();
    });
  }

  close(): void {
    this.socket.close();
  }
}

const run = async (cmd: HandshakeStart): Promise<HandshakeDone> => {
  setTimeout(() => process.exit(3), cmd.maxLifetimeMs).unref();
  const u = new URL(cmd.url);
  const target: RtmfpAddress = { host: u.hostname, port: Number(u.port), origin: AddressOrigin.UNKNOWN };
  const epd = epdForUrl(cmd.url);
  const histogram = new LatencyHistogram();
  const errors: string[] = [];
  let started = 0;
  let completed = 0;
  let failed = 0;
  const began = performance.now();
  let lastDone = began;
  const stopAt = began + cmd.seconds * 1000;
  const lanes = cmd.mode === 'handshake' ? await Promise.all(Array.from({ length: cmd.lanes }, () => Lane.open())) : [];
  const one = async (lane: number): Promise<void> => {
    const t0 = performance.now();
    try {
      if (cmd.mode === 'handshake') {
        await lanes[lane].handshake(epd, target, cmd.timeoutMs);
      } else {
        const client = new RtmfpClient();
        try {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            client.connect(cmd.url),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no connect _result within ${cmd.timeoutMs} ms`)), cmd.timeoutMs);
            }),
          ]).finally(() => clearTimeout(timer));
        } finally {
          client.close();
        }
      }
      completed++;
      lastDone = performance.now();
      histogram.add(lastDone - t0);
    } catch (err) {
      failed++;
      if (errors.length < 5) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(
    Array.from({ length: cmd.lanes }, async (_, lane) => {
      while (started < cmd.count && performance.now() < stopAt) {
        started++;
        await one(lane);
      }
    }),
  );
  for (const lane of lanes) {
    lane.close();
  }
  return {
    ev: 'done',
    started,
    completed,
    failed,
    errors,
    elapsedMs: lastDone - began,
    histogram: histogram.toSparse(),
    latencyMax: histogram.max,
    latencySum: histogram.sum,
  };
};

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: HandshakeCommand) => {
  if (msg.cmd === 'start') {
    run(msg).then(
      (done) => process.send?.(done),
      (err: unknown) => process.send?.({ ev: 'error', message: String(err) }),
    );
  } else if (msg.cmd === 'stop') {
    setTimeout(() => process.exit(0), 50);
  }
});
