/**
 * Clients whose hooks run into a script limit (application.timeout, application.memoryMax): each
 * such hook costs the server the whole budget (a Lua hook holds the main thread that long, a JS
 * one gets its app tree restarted), so a client that does it again and again could keep the
 * server busy or its JS apps' state wiped. The client is disconnected after its answer, and an
 * address with `strikes` of them within `windowMs` gets its new connections to the apps refused
 * for `windowMs`. Loopback is exempt, as from every per-address limit (AddressLimits): it is this
 * machine. Bounded (lru-cache): a flood of addresses cannot grow it, only push the oldest out.
 */
import { LRUCache } from 'lru-cache';
import { isLoopback } from '../util/AddressLimits.js';

interface Record {
  /** When each of the recent strikes happened (ms), oldest first. */
  times: number[];
  /** Refused until then (ms), 0 when not. */
  until: number;
}

export class ScriptLimitStrikes {
  private readonly records = new LRUCache<string, Record>({ max: 4096 });

  /** `strikes` 0: never refuse (clients are still disconnected). */
  constructor(
    readonly strikes = 3,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A hook of a client from `host` ran into a limit: true if the host is now refused. */
  record(host: string): boolean {
    if (this.strikes === 0 || isLoopback(host)) {
      return false;
    }
    const now = this.now();
    const record = this.records.get(host) ?? { times: [], until: 0 };
    record.times = record.times.filter((t) => now - t < this.windowMs);
    record.times.push(now);
    if (record.times.length >= this.strikes) {
      record.until = now + this.windowMs;
      record.times = [];
    }
    this.records.set(host, record);
    return record.until > now;
  }

  /** Whether new connections from `host` are refused now. */
  refused(host: string): boolean {
    const record = this.records.get(host);
    return record !== undefined && record.until > this.now();
  }
}

/** The host part of a Client.address ("ip:port", "[ip]:port"). */
export const hostOf = (address: string): string => {
  if (address.startsWith('[')) {
    return address.slice(1, address.indexOf(']'));
  }
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
};
