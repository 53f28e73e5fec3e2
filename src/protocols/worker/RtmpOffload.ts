import { type SessionCause, errorFromCode, sessionEnd } from '../../errors.js';
import type { SocketHandover } from '../../kernels/index.js';
import type { Logger } from '../../util/Logger.js';
import type { RtmpDataSession } from '../rtmp/RtmpDataSession.js';
import type { RtmpCommands } from '../rtmp/RtmpLink.js';
import type { RtmpOffload, RtmpProtocol } from '../rtmp/RtmpProtocol.js';
import type { RtmpSession } from '../rtmp/RtmpSession.js';
import { type FromWorker, asBuffer, wireBytes } from './MediaChannel.js';
import type { WorkerHandle } from './MediaWorkerPool.js';
import type { MediaWorkers, WorkerProtocol } from './MediaWorkers.js';
import { RemoteMedia } from './RemoteMedia.js';

/** The control half's view of an RTMP data half that lives in a media worker. */
class RemoteRtmp extends RemoteMedia implements RtmpCommands {
  constructor(
    private readonly handle: WorkerHandle,
    sid: number,
  ) {
    super(handle, handle.feeds, sid);
    handle.remotes.set(sid, this);
  }

  write(bytes: Buffer): void {
    const copy = wireBytes(bytes);
    this.handle.post({ op: 'rtmpWrite', sid: this.sid, bytes: copy }, [copy.buffer as ArrayBuffer]);
  }

  setReading(on: boolean): void {
    this.handle.post({ op: 'rtmpReading', sid: this.sid, on });
  }

  connected(): void {
    // A data half is handed over only once connected.
  }

  close(cause: SessionCause, graceful: boolean): void {
    this.handle.post({ op: 'close', sid: this.sid, code: cause.code, message: cause.message, graceful });
  }
}

/**
 * RTMP on the media workers (docs/adr/0003-rtmp-socket-handover.md): once `connect` is accepted,
 * a session's socket goes to the least loaded worker of the first `RTMP.workers`; its data half
 * goes on there from where the main thread stopped, and its events come back here to the
 * control half.
 */
export class RtmpWorkerOffload implements RtmpOffload, WorkerProtocol {
  constructor(
    private readonly workers: MediaWorkers,
    /** Workers 0 .. count-1 take RTMP sessions. */
    private readonly count: number,
    private readonly handover: SocketHandover,
    private readonly rtmp: RtmpProtocol,
    private readonly log: Logger,
  ) {
    workers.join(this);
  }

  adopt(session: RtmpSession, data: RtmpDataSession): RtmpCommands | null {
    let best: WorkerHandle | null = null;
    for (const worker of this.workers.handles) {
      if (worker.index < this.count && (best === null || worker.sessions < best.sessions)) {
        best = worker;
      }
    }
    if (best === null) {
      // Every worker is restarting: this thread serves the session itself.
      return null;
    }
    const moved = data.handover(this.handover);
    if (moved === null) {
      return null;
    }
    const buffers: ArrayBuffer[] = [moved.state.reader.stash.buffer as ArrayBuffer, moved.state.unread.buffer as ArrayBuffer];
    for (const stream of moved.state.reader.streams) {
      if (stream.buffer !== null) {
        buffers.push(stream.buffer.buffer as ArrayBuffer);
      }
    }
    best.post({ op: 'adoptRtmp', sid: session.sid, fd: moved.fd, address: session.client.address, state: moved.state }, buffers);
    best.sessions++;
    best.rtmpSids.add(session.sid);
    this.log.debug(`${session.client.address}: RTMP session moved to media worker ${best.index}`);
    const remote = new RemoteRtmp(best, session.sid);
    // The worker's traffic reports go on from the counts in `moved.state`.
    remote.traffic = session.client.traffic;
    return remote;
  }

  onWorkerMessage(handle: WorkerHandle, message: FromWorker): boolean {
    switch (message.op) {
      case 'rtmpCommand': {
        this.rtmp.sessions.get(message.sid)?.onCommand(message.streamId, message.type, asBuffer(message.payload));
        return true;
      }
      case 'rtmpPing': {
        this.rtmp.sessions.get(message.sid)?.onPing(message.rtt);
        return true;
      }
      case 'rtmpClosed': {
        if (handle.rtmpSids.delete(message.sid)) {
          handle.sessions = Math.max(0, handle.sessions - 1);
        }
        this.rtmp.sessions.get(message.sid)?.onClosed(errorFromCode(message.code, message.message));
        handle.remotes.delete(message.sid);
        return true;
      }
      default: {
        return false;
      }
    }
  }

  onWorkerGone(handle: WorkerHandle): void {
    for (const sid of handle.rtmpSids) {
      this.rtmp.sessions.get(sid)?.onClosed(sessionEnd('MS_ERR_WORKER_GONE', 'media worker stopped'));
    }
    handle.rtmpSids.clear();
  }
}
