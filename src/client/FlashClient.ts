import { EventEmitter } from 'node:events';

export interface RtmpStatus {
  level?: string;
  code?: string;
  description?: string;
  [k: string]: unknown;
}

/** A `_error` answer or a failure status (Connect.Rejected, Publish.BadName, Play.Failed...). */
export class RtmpCallError extends Error {
  constructor(readonly info: RtmpStatus) {
    super(`${info.code ?? 'error'}: ${info.description ?? ''}`);
  }
}

interface PendingCall {
  /** Receives the command object, then the values. */
  resolve: (values: unknown[]) => void;
  reject: (err: Error) => void;
}

/**
 * The NetConnection/NetStream client logic RTMP and RTMFP clients share: calls matched to their
 * `_result`/`_error` by transaction ID, statuses kept and waited for, publish and play. Statuses
 * arrive as 'status' events (streamId, info), invocations from the server as 'invoke'.
 */
export abstract class FlashClient extends EventEmitter {
  /** Every status received, in order (tests look at them). */
  readonly statuses: Array<{ streamId: number; info: RtmpStatus }> = [];
  closed = false;
  /** The command object of the `connect` answer (fmsVer, capabilities, fourCcList...). */
  serverProperties: Record<string, unknown> = {};
  private readonly calls = new Map<number, PendingCall>();
  private nextTransaction = 1;

  /** Sends `name(transaction, commandObject, ...args)` as a command on NetStream `streamId` (0 = NetConnection). */
  protected abstract sendCommand(streamId: number, name: string, transaction: number, commandObject: unknown, args: unknown[]): void;

  /** A NetStream was created: protocols that need per-stream state (RTMFP flows) set it up here. */
  protected onStreamCreated(_streamId: number): void {}

  /** NetConnection.call: resolves with the values after the command object of `_result`. */
  async call(name: string, commandObject: unknown = null, ...args: unknown[]): Promise<unknown[]> {
    return (await this.callWithProperties(name, commandObject, ...args)).slice(1);
  }

  /** NetConnection `connect`: the answer's command object is kept in `serverProperties`. */
  protected async netConnect(commandObject: Record<string, unknown>, args: unknown[]): Promise<unknown[]> {
    const [properties, ...values] = await this.callWithProperties('connect', commandObject, ...args);
    this.serverProperties = typeof properties === 'object' && properties !== null ? (properties as Record<string, unknown>) : {};
    return values;
  }

  /** Resolves with the command object of `_result` followed by its values. */
  private callWithProperties(name: string, commandObject: unknown, ...args: unknown[]): Promise<unknown[]> {
    const transaction = this.nextTransaction++;
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('connection closed'));
        return;
      }
      this.calls.set(transaction, { resolve, reject });
      this.sendCommand(0, name, transaction, commandObject, args);
    });
  }

  async createStream(): Promise<number> {
    const [id] = await this.call('createStream');
    const streamId = Number(id);
    this.onStreamCreated(streamId);
    return streamId;
  }

  /** Sends a command on a stream (publish, play, pause...) without waiting for an answer. */
  streamCommand(streamId: number, name: string, ...args: unknown[]): void {
    this.sendCommand(streamId, name, 0, null, args);
  }

  /** Resolves with the first status on `streamId` whose code is one of `codes`. */
  waitStatus(streamId: number, codes: string[], timeoutMs = 10_000): Promise<RtmpStatus> {
    const seen = this.statuses.find((s) => s.streamId === streamId && codes.includes(s.info.code ?? ''));
    if (seen !== undefined) {
      return Promise.resolve(seen.info);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('status', listener);
        reject(new Error(`no ${codes.join('/')} on stream ${streamId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (id: number, info: RtmpStatus): void => {
        if (id === streamId && codes.includes(info.code ?? '')) {
          clearTimeout(timer);
          this.off('status', listener);
          resolve(info);
        }
      };
      this.on('status', listener);
    });
  }

  /** NetStream.publish(name, type): type "live" (default), or "record"/"append" for a server that records. */
  async publish(name: string, type = 'live'): Promise<number> {
    const id = await this.createStream();
    this.streamCommand(id, 'publish', name, type);
    const info = await this.waitStatus(id, ['NetStream.Publish.Start', 'NetStream.Publish.BadName', 'NetStream.Publish.Failed']);
    if (info.code !== 'NetStream.Publish.Start') {
      throw new RtmpCallError(info);
    }
    return id;
  }

  async play(name: string): Promise<number> {
    const id = await this.createStream();
    this.streamCommand(id, 'play', name, -2);
    const info = await this.waitStatus(id, ['NetStream.Play.Start', 'NetStream.Play.Failed', 'NetStream.Play.StreamNotFound']);
    if (info.code !== 'NetStream.Play.Start') {
      throw new RtmpCallError(info);
    }
    return id;
  }

  /** A decoded command from the server: answers, statuses, or an invocation ('invoke' event with `extra`). */
  protected onCommandValues(streamId: number, values: readonly unknown[], ...extra: unknown[]): void {
    const name = typeof values[0] === 'string' ? values[0] : '';
    const transaction = typeof values[1] === 'number' ? values[1] : 0;
    if (name === '_result' || name === '_error') {
      const call = this.calls.get(transaction);
      if (call !== undefined) {
        this.calls.delete(transaction);
        if (name === '_result') {
          call.resolve(values.slice(2));
        } else {
          call.reject(new RtmpCallError((values[3] ?? {}) as RtmpStatus));
        }
      }
      return;
    }
    if (name === 'onStatus') {
      const info = (values[3] ?? {}) as RtmpStatus;
      this.statuses.push({ streamId, info });
      this.emit('status', streamId, info);
      return;
    }
    this.emit('invoke', name, values.slice(3), ...extra);
  }

  /** Fails every pending call (the connection ended). */
  protected rejectCalls(err: Error | null): void {
    for (const call of this.calls.values()) {
      call.reject(err ?? new Error('connection closed'));
    }
    this.calls.clear();
  }
}
