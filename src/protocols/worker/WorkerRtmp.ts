import { Socket } from 'node:net';
import { errorFromCode, errorMessage, sessionEnd } from '../../errors.js';
import type { SocketHandover } from '../../kernels/index.js';
import type { Logger } from '../../util/Logger.js';
import type { SessionMedia } from '../flash/SessionMedia.js';
import { RtmpDataSession } from '../rtmp/RtmpDataSession.js';
import type { RtmpDataOptions, RtmpEvents } from '../rtmp/RtmpLink.js';
import type { WireContext } from '../WireContext.js';
import { type FromWorker, type ToWorker, asBuffer, wireBytes } from './MediaChannel.js';

type Post = (message: FromWorker, moved?: readonly ArrayBuffer[]) => void;

const TICK_MS = 1000;

/**
 * The RTMP data halves a media worker serves: sockets the main thread handed over after
 * `connect` (RtmpOffload.ts), opened here from their duplicated descriptors, each going on from
 * where its chunk stream stood. Commands go back to the control halves on the main thread.
 */
export class WorkerRtmp {
  readonly sessions = new Map<number, RtmpDataSession>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly options: RtmpDataOptions,
    private readonly log: Logger,
    private readonly post: Post,
    private readonly handover: SocketHandover | null,
    /** This worker's packet-path state: the write batch of its sessions. */
    private readonly wire: WireContext,
  ) {
    wire.frames.mergeMs = options.mergeWriteMs;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const session of this.sessions.values()) {
        session.tick(now);
      }
    }, TICK_MS);
    this.timer.unref();
  }

  mediaOf(sid: number): SessionMedia | undefined {
    return this.sessions.get(sid)?.media;
  }

  /** Runs an RTMP message; false when `message` is not one (or not for an RTMP session here). */
  handle(message: ToWorker): boolean {
    switch (message.op) {
      case 'adoptRtmp': {
        this.adopt(message);
        return true;
      }
      case 'rtmpWrite': {
        this.sessions.get(message.sid)?.write(asBuffer(message.bytes));
        return true;
      }
      case 'rtmpReading': {
        this.sessions.get(message.sid)?.setReading(message.on);
        return true;
      }
      case 'close': {
        const session = this.sessions.get(message.sid);
        session?.close(errorFromCode(message.code, message.message), message.graceful);
        return session !== undefined;
      }
      default: {
        return false;
      }
    }
  }

  private adopt(message: Extract<ToWorker, { op: 'adoptRtmp' }>): void {
    const { sid, fd, address } = message;
    let socket: Socket;
    try {
      socket = new Socket({ fd, readable: true, writable: true });
    } catch (err) {
      this.log.error(`${address}: cannot open the handed-over socket: ${errorMessage(err)}`);
      this.handover?.closeDescriptor(fd);
      this.post({ op: 'rtmpClosed', sid, code: 'MS_ERR_SOCKET', message: `the socket could not be handed over (${errorMessage(err)})` });
      return;
    }
    const events: RtmpEvents = {
      onCommand: (streamId, type, payload) => {
        const copy = wireBytes(payload);
        this.post({ op: 'rtmpCommand', sid, streamId, type, payload: copy }, [copy.buffer as ArrayBuffer]);
      },
      onPing: (rtt) => this.post({ op: 'rtmpPing', sid, rtt }),
      onClosed: (cause) => this.post({ op: 'rtmpClosed', sid, code: cause.code, message: cause.message }),
    };
    const session = new RtmpDataSession(socket, this.wire, this.options, this.log, address, events, () => this.sessions.delete(sid), message.state);
    this.sessions.set(sid, session);
    session.start();
  }

  /** The worker stops: every session ends (the main thread closes their control halves). */
  stop(): void {
    clearInterval(this.timer);
    for (const session of [...this.sessions.values()]) {
      session.close(sessionEnd('MS_ERR_SERVER_STOPPING', 'server stopping'), false);
    }
  }
}
