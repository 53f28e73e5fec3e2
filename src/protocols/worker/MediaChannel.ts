/**
 * The channel between the main thread (control plane) and one media worker (data plane): every
 * message that crosses, in both directions, is declared here once, in the style of mediasoup's
 * Channel (style rule 6, docs/adr/0003).
 *
 * - **Order.** Messages are queued and leave in one `postMessage` per event-loop turn (a
 *   microtask after the current synchronous work), in the order they were sent, so a status
 *   written for a player never overtakes the frames queued before it, and N frames of one turn
 *   cost one message.
 * - **Bytes.** Every byte array in a message is an exact-size copy in an ArrayBuffer of its own
 *   (`wireBytes`), moved in the transfer list: a view of Node's 8 KiB pool would make structured
 *   clone copy the whole slab. `MediaChannel` checks it as it sends (test/unit/worker).
 * - **Requests.** A request carries an id and gets one reply; a failure crosses as `{code,
 *   message}` and is rebuilt as the project's own error class by its code (`errorFromCode`),
 *   because structured clone keeps only the standard error types.
 */
import { type ErrorCode, MediaServerError, errorFromCode } from '../../errors.js';
import type { RtmpDataState } from '../rtmp/RtmpLink.js';
import type { SessionOptions } from '../rtmfp/crypto/computeKeys.js';

// --- what crosses ------------------------------------------------------------------------------

/**
 * Main thread → media worker. `sid`: a session of the worker (unique across workers: RTMFP's
 * carry the worker's index + 1 in their high byte, RTMP's have the high bit set).
 */
export type ToWorker =
  // Sessions (control half → data half).
  | { op: 'tc'; sid: number; streamId: number; message: Uint8Array }
  | { op: 'group'; sid: number; flowId: number; message: Uint8Array }
  | { op: 'writerFlow'; sid: number; writerId: number; message: Uint8Array; reliable: boolean }
  | { op: 'writerFlowClose'; sid: number; writerId: number }
  | { op: 'chunk'; sid: number; chunk: Uint8Array }
  | { op: 'close'; sid: number; code: string; message: string; graceful: boolean }
  | { op: 'sendStartup'; datagram: Uint8Array; host: string; port: number }
  // RTMP: a connected socket moves here (its descriptor duplicated, where its chunk stream stands).
  | { op: 'adoptRtmp'; sid: number; fd: number; address: string; state: RtmpDataState }
  | { op: 'rtmpWrite'; sid: number; bytes: Uint8Array }
  | { op: 'rtmpReading'; sid: number; on: boolean }
  // Media: the worker mirrors the publications its sessions play or publish (`feed` = Publication.id).
  | { op: 'openFeed'; feed: number; name: string; running: boolean; hasVideo: boolean; cache: WireFrame[] }
  | { op: 'feedState'; feed: number; running: boolean }
  | { op: 'closeFeed'; feed: number }
  | ({ op: 'frame'; feed: number } & WireFrame)
  | ({ op: 'play'; sid: number; streamId: number; feed: number } & SubscriberSettings)
  | ({ op: 'subscriber'; sid: number; streamId: number } & SubscriberSettings)
  | { op: 'stopPlaying'; sid: number; streamId: number }
  | { op: 'publish'; sid: number; streamId: number; feed: number }
  | { op: 'stopPublishing'; sid: number; streamId: number };

/** A media frame as it crosses (the payload an exact-size copy of its own, moved). */
export interface WireFrame {
  kind: number;
  timestamp: number;
  payload: Uint8Array;
}

/** A subscriber's filters (Subscriber.receiveAudio/receiveVideo/paused). */
export interface SubscriberSettings {
  audio: boolean;
  video: boolean;
  paused: boolean;
}

/** Media worker → main thread. */
export type FromWorker =
  | { op: 'listening'; port: number }
  | { op: 'opened'; sid: number; peerId: Uint8Array; host: string; port: number }
  | { op: 'tc'; sid: number; streamId: number; type: number; timestamp: number; body: Uint8Array }
  | { op: 'group'; sid: number; flowId: number; message: Uint8Array }
  | { op: 'groupClosed'; sid: number; flowId: number }
  | { op: 'address'; sid: number; host: string; port: number }
  | { op: 'closed'; sid: number; code: string; message: string }
  | { op: 'rtmpCommand'; sid: number; streamId: number; type: number; payload: Uint8Array }
  | { op: 'rtmpPing'; sid: number; rtt: number }
  | { op: 'rtmpClosed'; sid: number; code: string; message: string }
  // A publisher of this worker: each frame once (its own subscribers here already have it).
  | ({ op: 'frame'; feed: number } & WireFrame)
  // Frames the worker's subscribers did not get (drops to a keyframe), for those that changed.
  | { op: 'dropped'; sids: number[]; streams: number[]; counts: number[] }
  // Its sessions' traffic for their Client.traffic, once a second, for those whose numbers changed:
  // totals since each connection began (bytes on the wire) and the lost rate (0..1, 0 on TCP).
  | { op: 'traffic'; sids: number[]; received: number[]; sent: number[]; lostRates: number[] }
  | { op: 'peerHello'; peerId: Uint8Array; tag: Uint8Array; epd: Uint8Array; host: string; port: number }
  | { op: 'log'; level: number; message: string };

/** What the main thread asks of a worker and waits for. */
export type WorkerRequests = {
  /** Close every session and the socket; answered once done. */
  stop: { args: Record<string, never>; reply: null };
};

/** What a worker asks of the main thread and waits for. */
export type MainRequests = {
  /** Handshake DH and key derivation, run in the main thread's piscina pool (null: bad key or group). */
  computeKeys: {
    args: { groupId: number; clientPublicKey: Uint8Array; skic: Uint8Array };
    reply: { skrc: Uint8Array; encryptKey: Uint8Array; decryptKey: Uint8Array; options: SessionOptions } | null;
  };
};

/** A frame as it crosses: its payload copied once into a buffer of its own, to be moved. */
export const wireFrame = (kind: number, timestamp: number, payload: Uint8Array): WireFrame => ({ kind, timestamp, payload: wireBytes(payload) });

// --- the mechanism ---------------------------------------------------------------------------

/** What a channel needs of a MessagePort or Worker (`parentPort` in the worker). */
export interface ChannelPort {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

type RequestMap = Record<string, { args: object; reply: unknown }>;

type RequestMessage = { op: '@request'; rid: number; name: string; args: object };
type ReplyMessage = { op: '@reply'; rid: number; value?: unknown; error?: { code: string; message: string } };
type Envelope<M> = M | RequestMessage | ReplyMessage;

/** Handlers for the requests the other side makes: a value, a promise, or a throw (sent as `{code, message}`). */
export type RequestHandlers<R extends RequestMap> = { [K in keyof R]: (args: R[K]['args']) => R[K]['reply'] | Promise<R[K]['reply']> };

/**
 * An exact-size copy of `bytes` in an ArrayBuffer of its own, ready to be moved through a channel
 * (the original stays usable: it may be a frame other outputs still hold).
 */
export const wireBytes = (bytes: Uint8Array): Uint8Array => {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
};

/** A Buffer view of bytes that crossed a channel (structured clone gives a Uint8Array). */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * One end of a channel: `Out` messages it sends, `In` messages it receives, `OutRequests` it
 * asks, `InRequests` it answers.
 */
export class MediaChannel<Out extends { op: string }, In extends { op: string }, OutRequests extends RequestMap, InRequests extends RequestMap> {
  private queue: Envelope<Out>[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private nextRid = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private closed = false;
  private readonly flushNow = (): void => this.flush();
  /** Messages and posts, for tests and benchmarks. */
  readonly stats = { messages: 0, posts: 0 };
  /**
   * Tests turn this on (both ends: workers read it from their setup): every post is checked for
   * a byte array that is not an exact-size, moved ArrayBuffer, and each one is reported to `onError`.
   */
  static checkPosts = false;

  constructor(
    private readonly port: ChannelPort,
    private readonly onMessage: (message: In) => void,
    private readonly answer: RequestHandlers<InRequests>,
    /** A request handler failed, a reply came for nothing, a message handler threw: logged by the owner. */
    private readonly onError: (err: unknown) => void,
  ) {
    port.on('message', (value) => this.receive(value));
  }

  /** Queues `message`; `moved` are the ArrayBuffers of its byte arrays (each from `wireBytes`). */
  send(message: Out, moved?: readonly ArrayBuffer[]): void {
    this.enqueue(message, moved);
  }

  /** Asks the other side; resolves with its reply, rejects with the error it threw (rebuilt by code). */
  request<K extends keyof OutRequests & string>(name: K, args: OutRequests[K]['args'], moved?: readonly ArrayBuffer[]): Promise<OutRequests[K]['reply']> {
    if (this.closed) {
      return Promise.reject(new MediaServerError('MS_ERR_WORKER_GONE', `channel closed before ${name}`));
    }
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      this.waiting.set(rid, { resolve: resolve, reject });
      this.enqueue({ op: '@request', rid, name, args }, moved);
    });
  }

  /** The other side is gone: pending requests fail, later sends are dropped. */
  close(reason: string): void {
    this.closed = true;
    this.queue = [];
    this.transfer = [];
    for (const waiter of this.waiting.values()) {
      waiter.reject(new MediaServerError('MS_ERR_WORKER_GONE', reason));
    }
    this.waiting.clear();
  }

  private enqueue(message: Envelope<Out>, moved: readonly ArrayBuffer[] | undefined): void {
    if (this.closed) {
      return;
    }
    this.queue.push(message);
    if (moved !== undefined) {
      for (const buffer of moved) {
        this.transfer.push(buffer);
      }
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Posts what is queued now (normally a microtask after the first send of a turn). */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0 || this.closed) {
      return;
    }
    const queue = this.queue;
    const transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    this.stats.messages += queue.length;
    this.stats.posts++;
    if (MediaChannel.checkPosts) {
      for (const problem of unmovedBytes(queue, new Set(transfer))) {
        this.onError(new MediaServerError('MS_ERR_INTERNAL', `channel post carries ${problem}`));
      }
    }
    try {
      this.port.postMessage(queue, transfer);
    } catch (err) {
      // Something in the batch could not be cloned (a bug): its messages are lost, the channel goes on.
      this.onError(err);
    }
  }

  private receive(value: unknown): void {
    if (!Array.isArray(value)) {
      this.onError(new MediaServerError('MS_ERR_WORKER_GONE', 'channel message is not a batch'));
      return;
    }
    for (const message of value as Envelope<In>[]) {
      try {
        if (message.op === '@request') {
          this.serve(message as RequestMessage);
        } else if (message.op === '@reply') {
          this.settle(message as ReplyMessage);
        } else {
          this.onMessage(message as In);
        }
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private serve(request: RequestMessage): void {
    const handler = (this.answer as Record<string, ((args: object) => unknown) | undefined>)[request.name];
    const reply = (value: unknown, error?: unknown): void => {
      const failure = error === undefined ? undefined : wireError(error);
      this.enqueue(failure === undefined ? { op: '@reply', rid: request.rid, value } : { op: '@reply', rid: request.rid, error: failure }, movedOf(value));
    };
    if (handler === undefined) {
      reply(undefined, new MediaServerError('MS_ERR_UNSUPPORTED', `no handler for request ${request.name}`));
      return;
    }
    try {
      Promise.resolve(handler(request.args)).then(
        (value) => reply(value ?? null),
        (err: unknown) => reply(undefined, err),
      );
    } catch (err) {
      reply(undefined, err);
    }
  }

  private settle(reply: ReplyMessage): void {
    const waiter = this.waiting.get(reply.rid);
    if (waiter === undefined) {
      this.onError(new MediaServerError('MS_ERR_WORKER_GONE', `reply ${reply.rid} matches no request`));
      return;
    }
    this.waiting.delete(reply.rid);
    if (reply.error !== undefined) {
      waiter.reject(errorFromCode(reply.error.code, reply.error.message));
    } else {
      waiter.resolve(reply.value);
    }
  }
}

/** An error as it crosses: its code when it is one of ours, else MS_ERR_INTERNAL, and its message. */
const wireError = (err: unknown): { code: ErrorCode; message: string } =>
  err instanceof MediaServerError ? { code: err.code, message: err.message } : { code: 'MS_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) };

/** The byte arrays of a reply value (one level deep: replies are small records), to move them. */
const movedOf = (value: unknown): ArrayBuffer[] | undefined => {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const moved: ArrayBuffer[] = [];
  for (const field of Object.values(value)) {
    if (field instanceof Uint8Array && field.byteOffset === 0 && field.byteLength === field.buffer.byteLength && field.buffer instanceof ArrayBuffer) {
      moved.push(field.buffer);
    }
  }
  return moved;
};

/**
 * Byte arrays in `value` that structured clone would copy with more than their own bytes (a view
 * of a larger ArrayBuffer) or copy at all (not in the transfer list): what `checkPosts` reports.
 */
export const unmovedBytes = (value: unknown, moved: ReadonlySet<ArrayBufferLike>, path = 'message', out: string[] = []): string[] => {
  if (ArrayBuffer.isView(value)) {
    if (value.byteLength !== value.buffer.byteLength) {
      out.push(`${path}: a ${value.byteLength}-byte view of a ${value.buffer.byteLength}-byte buffer`);
    } else if (value.byteLength > 0 && !moved.has(value.buffer)) {
      out.push(`${path}: ${value.byteLength} bytes copied instead of moved`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => unmovedBytes(item, moved, `${path}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, field] of Object.entries(value)) {
      unmovedBytes(field, moved, `${path}.${key}`, out);
    }
  }
  return out;
};
