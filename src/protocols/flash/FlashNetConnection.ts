import { type ErrorCode, ProtocolError, RejectionError, errorMessage } from '../../errors.js';
import { FlashNetStream } from './FlashNetStream.js';
import type { FlashTransport } from './FlashTransport.js';
import { connectResult, errorCommand, invocation, resultCommand, statusInfo } from './flashStatus.js';

/** Commands a NetStream handles; anything else unknown is an RPC for the application. */
const STREAM_COMMANDS = new Set(['publish', 'play', 'play2', 'pause', 'pauseRaw', 'seek', 'receiveAudio', 'receiveVideo', 'closeStream']);
const MAX_STREAMS = 64;

/**
 * The NetConnection semantics RTMP and RTMFP share (MonaServer's FlashMainStream): `connect`
 * through the core's hook, `createStream`/`deleteStream`, the FMS built-ins ffmpeg and OBS send,
 * and every other call routed to the application (`_result` / `_error` Call.Failed).
 */
export class FlashNetConnection {
  readonly streams = new Map<number, FlashNetStream>();
  private nextStreamId = 1;

  /** The code of a protocol error on this transport (RTMP and RTMFP have their own). */
  private readonly protocolCode: ErrorCode;

  constructor(private readonly transport: FlashTransport) {
    this.protocolCode = transport.protocolName === 'RTMFP' ? 'MS_ERR_RTMFP_PROTOCOL' : 'MS_ERR_RTMP_PROTOCOL';
  }

  /**
   * One command (values already decoded: name, transaction id, command object, args...) received
   * on NetStream `streamId` (0 = NetConnection). Returns a promise while a hook runs, so the
   * transport can hold later messages; throws ProtocolError for what must close the session.
   */
  onCommand(streamId: number, values: readonly unknown[]): Promise<void> | null {
    const name = values[0];
    const transactionId = typeof values[1] === 'number' ? values[1] : 0;
    if (typeof name !== 'string') {
      throw new ProtocolError(this.protocolCode, 'command without a name');
    }
    const args = values.slice(3);
    const client = this.transport.client;
    if (client.state === 'connecting' && name !== 'connect') {
      throw new ProtocolError(this.protocolCode, `command ${name} before connect`);
    }
    switch (name) {
      case 'connect': {
        return this.connect(transactionId, values[2], args);
      }
      case 'createStream': {
        if (this.streams.size >= MAX_STREAMS) {
          throw new ProtocolError(this.protocolCode, `more than ${MAX_STREAMS} streams`);
        }
        const id = this.nextStreamId++;
        this.streams.set(id, new FlashNetStream(this.transport, id));
        this.transport.writeCommand(0, resultCommand(transactionId, null, id));
        return null;
      }
      case 'deleteStream': {
        const id = typeof args[0] === 'number' ? args[0] : -1;
        this.streams.get(id)?.close();
        this.streams.delete(id);
        return null;
      }
      case 'releaseStream':
      case 'getStreamLength':
      case '_checkbw': {
        // ffmpeg treats an _error as fatal for getStreamLength: answer as FMS does.
        this.transport.writeCommand(0, resultCommand(transactionId, null, name === 'getStreamLength' ? 0 : undefined));
        return null;
      }
      case 'FCPublish':
      case 'FCUnpublish':
      case 'FCSubscribe':
      case 'FCUnsubscribe': {
        const code =
          name === 'FCPublish' ? 'NetStream.Publish.Start' : name === 'FCSubscribe' ? 'NetStream.Play.Start' : 'NetStream.Unpublish.Success';
        this.transport.writeCommand(0, invocation(`on${name}`, { code, description: typeof args[0] === 'string' ? args[0] : '' }));
        return null;
      }
      case '_result':
      case '_error':
      case 'onBWDone':
      case 'onStatus': {
        return null;
      }
      default: {
        if (STREAM_COMMANDS.has(name)) {
          const stream = this.streams.get(streamId);
          if (stream === undefined) {
            this.transport.log.warn(`${client.address}: ${name} on unknown stream ${streamId}`);
            return null;
          }
          return stream.onCommand(name, transactionId, args);
        }
        return this.call(name, transactionId, args);
      }
    }
  }

  private async connect(transactionId: number, commandObject: unknown, args: unknown[]): Promise<void> {
    const transport = this.transport;
    const client = transport.client;
    if (client.state !== 'connecting') {
      throw new ProtocolError(this.protocolCode, 'second connect on one connection');
    }
    const props = (typeof commandObject === 'object' && commandObject !== null ? commandObject : {}) as Record<string, unknown>;
    transport.objectEncoding = props.objectEncoding === 3 ? 3 : 0;
    const app = typeof props.app === 'string' ? props.app : '';
    const [path, query] = splitApp(app, typeof props.tcUrl === 'string' ? props.tcUrl : '');
    client.path = path;
    client.query = query;
    const properties: Record<string, unknown> = { ...props };
    for (const [k, v] of new URLSearchParams(query)) {
      properties[k] = v;
    }
    client.properties = properties;
    transport.onConnectStart?.();
    let response: Record<string, unknown>;
    const where = path === '' ? '/' : path;
    try {
      response = await transport.core.connect(client, args);
    } catch (err) {
      const reason = errorMessage(err);
      const code =
        err instanceof RejectionError && err.code === 'MS_ERR_CONNECT_INVALID_APP' ? 'NetConnection.Connect.InvalidApp' : 'NetConnection.Connect.Rejected';
      transport.log.info(`${client.address}: connect to ${where} rejected: ${reason}`);
      transport.writeCommand(0, errorCommand(transactionId, statusInfo('error', code, reason)));
      transport.writeCommand(0, invocation('close'));
      transport.end(err instanceof RejectionError ? err : new RejectionError('MS_ERR_CONNECT_REJECTED', reason), true);
      return;
    }
    if (transport.isClosed) {
      return;
    }
    const fourCcList = Array.isArray(props.fourCcList) ? (props.fourCcList as unknown[]) : undefined;
    transport.writeCommand(0, connectResult(transactionId, transport.objectEncoding, response, fourCcList));
    transport.log.info(`${client.address}: ${transport.protocolName} connected to ${where}`);
  }

  private async call(name: string, transactionId: number, args: unknown[]): Promise<void> {
    const transport = this.transport;
    try {
      const values = await transport.core.call(transport.client, name, args);
      if (transactionId !== 0 && !transport.isClosed) {
        transport.writeCommand(0, resultCommand(transactionId, null, ...values));
      }
    } catch (err) {
      const reason = errorMessage(err);
      transport.log.debug(`${transport.client.address}: call ${name} failed: ${reason}`);
      if (!transport.isClosed) {
        transport.writeCommand(0, errorCommand(transactionId, statusInfo('error', 'NetConnection.Call.Failed', reason)));
      }
    }
  }

  /** Every stream stops (session end). */
  close(): void {
    for (const stream of this.streams.values()) {
      stream.close();
    }
    this.streams.clear();
  }
}

/**
 * The application path from `connect`'s `app` (e.g. "live", "live/sub?x=1"): "" for the root,
 * "/a/b" otherwise, and the query from `app` or else from `tcUrl`.
 */
export const splitApp = (app: string, tcUrl: string): [string, string] => {
  let query = '';
  let name = app;
  const q = app.indexOf('?');
  if (q >= 0) {
    query = app.slice(q + 1);
    name = app.slice(0, q);
  } else {
    const t = tcUrl.indexOf('?');
    if (t >= 0) {
      query = tcUrl.slice(t + 1);
    }
  }
  const parts = name.split('/').filter((s) => s !== '');
  return [parts.length === 0 ? '' : `/${parts.join('/')}`, query];
};
