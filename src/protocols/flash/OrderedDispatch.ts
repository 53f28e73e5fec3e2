import { type ErrorCode, ProtocolError } from '../../errors.js';

/**
 * Keeps a session's messages in order around asynchronous hooks: `handle` runs each message and
 * returns a promise when it had to wait (a hook, e.g. onPublish); until it settles, later
 * messages are queued (bounded) and handled afterwards, in arrival order. RTMP pauses its socket
 * meanwhile (`onBusy`/`onIdle`); RTMFP relies on the bound.
 */
export class OrderedDispatch<T> {
  private pending: T[] | null = null;

  constructor(
    private readonly handle: (item: T) => Promise<void> | null,
    /** A handler threw or its promise rejected: the session ends. */
    private readonly onError: (err: unknown) => void,
    /** Whether the session is still open (nothing runs once it is closed). */
    private readonly isOpen: () => boolean,
    private readonly limit = 4096,
    private readonly onBusy?: () => void,
    private readonly onIdle?: () => void,
    /** The protocol's error code for too many queued messages. */
    private readonly overflowCode: ErrorCode = 'MS_ERR_RTMP_PROTOCOL',
  ) {}

  /** Runs `item` now, or queues it behind a pending one. Throws ProtocolError past the limit. */
  push(item: T): void {
    if (this.pending !== null) {
      if (this.pending.length >= this.limit) {
        throw new ProtocolError(this.overflowCode, 'too many messages while a command is pending');
      }
      this.pending.push(item);
      return;
    }
    this.run(item);
  }

  private run(item: T): void {
    const work = this.handle(item);
    if (work !== null) {
      this.wait(work);
    }
  }

  private wait(work: Promise<void>): void {
    this.pending = [];
    this.onBusy?.();
    work
      .catch((err: unknown) => this.onError(err))
      .finally(() => this.drain());
  }

  private drain(): void {
    const queue = this.pending ?? [];
    this.pending = null;
    for (let i = 0; i < queue.length && this.isOpen(); i++) {
      if (this.pending !== null) {
        // A queued message started a new wait: the rest waits behind it, still in order.
        (this.pending as T[]).push(...queue.slice(i));
        return;
      }
      try {
        this.run(queue[i]);
      } catch (err) {
        this.onError(err);
      }
    }
    if (this.pending === null && this.isOpen()) {
      this.onIdle?.();
    }
  }
}
