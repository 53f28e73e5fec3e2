/**
 * Stateless 64-byte handshake cookies (rtmfp.md §2.1, §7.4): the server keeps nothing per IHello;
 * the cookie it sends in RHello proves, when it comes back in IIKeying, that we issued it, when,
 * and to which address.
 *
 * Layout (64 bytes, the size librtmfp, Cumulus and MonaServer require):
 *   [0, 6)   issue time, ms since the epoch (u48 BE)
 *   [6, 24)  random
 *   [24, 32) address tag = HMAC-SHA256(secret, "A" | time | random | "host:port")[0, 8)
 *   [32, 64) MAC = HMAC-SHA256(secret, "C" | bytes [0, 32))
 * Checking order: the MAC (forged), then the time (expired or from the future), then the address
 * tag (a genuine cookie replayed from another address: where rtmfp-cpp sends a Cookie Change).
 * The secret is random per instance unless given (share it between processes that must accept
 * each other's cookies).
 */
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

export const COOKIE_SIZE = 64;
/** RFC 7016, rtmfp-cpp MAX_COOKIE_LIFETIME and MonaServer2. */
export const COOKIE_LIFETIME_MS = 95_000;
/** Clock skew tolerated for a cookie "from the future" (several processes, one secret). */
const FUTURE_SKEW_MS = 2_000;

export const CookieCheck = { VALID: 0, FORGED: 1, EXPIRED: 2, OTHER_ADDRESS: 3 } as const;
export type CookieCheck = (typeof CookieCheck)[keyof typeof CookieCheck];

const TAG_DOMAIN = Buffer.from('A');
const MAC_DOMAIN = Buffer.from('C');
const POOL_SIZE = 18 * 256;

export class StatelessCookies {
  private readonly secret: Buffer;
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private poolOffset = POOL_SIZE;
  private readonly scratch = Buffer.allocUnsafe(32);

  constructor(
    secret: Buffer = randomBytes(32),
    readonly lifetimeMs: number = COOKIE_LIFETIME_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = Buffer.from(secret);
  }

  private addressTag(head: Uint8Array, address: string, out: Buffer, offset: number): void {
    createHmac('sha256', this.secret).update(TAG_DOMAIN).update(head).update(address).digest().copy(out, offset, 0, 8);
  }

  private mac(head32: Uint8Array): Buffer {
    return createHmac('sha256', this.secret).update(MAC_DOMAIN).update(head32).digest();
  }

  /** Writes a new cookie for `address` ("host:port") at `out[offset, offset + 64)`. */
  issue(address: string, out: Buffer, offset: number): void {
    if (this.poolOffset === POOL_SIZE) {
      randomFillSync(this.pool);
      this.poolOffset = 0;
    }
    out.writeUIntBE(this.now(), offset, 6);
    this.pool.copy(out, offset + 6, this.poolOffset, this.poolOffset + 18);
    this.poolOffset += 18;
    this.addressTag(out.subarray(offset, offset + 24), address, out, offset + 24);
    this.mac(out.subarray(offset, offset + 32)).copy(out, offset + 32);
  }

  /** A new cookie as its own buffer. */
  create(address: string): Buffer {
    const cookie = Buffer.allocUnsafe(COOKIE_SIZE);
    this.issue(address, cookie, 0);
    return cookie;
  }

  check(cookie: Buffer, address: string): CookieCheck {
    if (cookie.length !== COOKIE_SIZE) {
      return CookieCheck.FORGED;
    }
    if (!timingSafeEqual(this.mac(cookie.subarray(0, 32)), cookie.subarray(32))) {
      return CookieCheck.FORGED;
    }
    const issued = cookie.readUIntBE(0, 6);
    const now = this.now();
    if (issued > now + FUTURE_SKEW_MS) {
      return CookieCheck.FORGED;
    }
    if (now - issued > this.lifetimeMs) {
      return CookieCheck.EXPIRED;
    }
    this.addressTag(cookie.subarray(0, 24), address, this.scratch, 0);
    return timingSafeEqual(this.scratch.subarray(0, 8), cookie.subarray(24, 32)) ? CookieCheck.VALID : CookieCheck.OTHER_ADDRESS;
  }

  /** When a (valid) cookie stops being accepted, in the clock's ms. */
  expiresAt(cookie: Buffer): number {
    return cookie.readUIntBE(0, 6) + this.lifetimeMs;
  }
}
