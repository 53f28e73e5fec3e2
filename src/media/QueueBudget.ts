import type { Subscriber } from './Subscriber.js';

/**
 * What all the subscribers of one thread may hold queued together (media.queueBudget, shared
 * out between the threads that serve subscribers). Each subscriber may queue up to
 * media.subscriberQueueBytes on its own; ten thousand slow ones would hold ten thousand times
 * that. While the thread's total is over the budget, a subscriber that holds more than a fair
 * share (the budget divided by the subscribers) is treated as past its limit: the slowest drop to
 * the next keyframe first, the ones that keep up are not touched. The fan-out notes each
 * subscriber's queue as it reads it, so the total costs two field updates per frame.
 */
export class QueueBudget {
  private total = 0;
  private count = 0;
  /** Times a subscriber was held to its fair share (tests, stats). */
  squeezed = 0;

  constructor(readonly limitBytes: number) {}

  /** Records what `subscriber` holds now. */
  note(subscriber: Subscriber, queued: number): void {
    this.total += queued - subscriber.noted;
    subscriber.noted = queued;
  }

  /** A subscriber joins (its queue counts from now on). */
  join(subscriber: Subscriber): void {
    subscriber.noted = 0;
    this.count++;
  }

  /** A subscriber leaves: what it held no longer counts. */
  leave(subscriber: Subscriber): void {
    this.total -= subscriber.noted;
    subscriber.noted = 0;
    this.count = Math.max(0, this.count - 1);
  }

  /** Whether `queued` is over the fair share while the thread is over its budget. */
  squeezes(queued: number): boolean {
    if (this.total <= this.limitBytes || this.count === 0 || queued * this.count <= this.limitBytes) {
      return false;
    }
    this.squeezed++;
    return true;
  }

  /** Bytes all subscribers hold, as last read. */
  get queuedBytes(): number {
    return this.total;
  }
}
