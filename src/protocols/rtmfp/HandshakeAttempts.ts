import { LRUCache } from 'lru-cache';

/** Addresses remembered, and IHello tags per address (bounded, expiring). */
const MAX_ADDRESSES = 10_000;
const MAX_TAGS_PER_ADDRESS = 64;
const TTL_MS = 60_000;

/**
 * How many times each IHello tag asked (the `attempts` of onHandshake, which lets a script stop a
 * redirection loop). Bounded caches with expiry (lru-cache), kept per source address: a flood of
 * new tags from one address evicts only that address's oldest tags, never another client's
 * count, and nothing is ever cleared whole.
 */
export class HandshakeAttempts {
  private readonly byAddress = new LRUCache<string, LRUCache<string, number>>({ max: MAX_ADDRESSES, ttl: TTL_MS });

  /** Counts one IHello of `tag` from `host`; returns 1 for the first, then 2, 3... */
  count(host: string, tag: string): number {
    let tags = this.byAddress.get(host);
    if (tags === undefined) {
      tags = new LRUCache<string, number>({ max: MAX_TAGS_PER_ADDRESS, ttl: TTL_MS });
      this.byAddress.set(host, tags);
    }
    const attempts = (tags.get(tag) ?? 0) + 1;
    tags.set(tag, attempts);
    return attempts;
  }
}
