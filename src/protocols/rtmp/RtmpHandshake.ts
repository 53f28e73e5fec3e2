/**
 * RTMP handshake as two pure state machines (no sockets): bytes in, bytes out.
 *
 * Two flavours exist on the wire:
 *  - plain (RTMP spec §5.2): S1 = time + zeros + random, S2 = echo of C1;
 *  - digest (Flash Player 9+, ffmpeg, OBS): C1/S1 carry an HMAC-SHA256 digest at an offset derived
 *    from the packet itself, and S2/C2 end with an HMAC keyed by the peer's digest. Flash Player
 *    refuses to play H.264/AAC from a server that answers plainly, so we answer in kind when C1
 *    carries a valid digest and fall back to plain otherwise.
 * Only version 3 (unencrypted RTMP) is accepted; 6 (RTMPE) and anything else is rejected.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../../errors.js';

export const RTMP_VERSION = 3;
/** Size of C1/S1/C2/S2. */
export const HANDSHAKE_SIZE = 1536;
const DIGEST_SIZE = 32;

/** Constant tail shared by both Adobe keys; only the full 68-byte server key uses it here. */
const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d,
  0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
const PLAYER_KEY_TEXT = Buffer.from('Genuine Adobe Flash Player 001', 'latin1'); // 30 bytes
const SERVER_KEY_TEXT = Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'); // 36 bytes
const PLAYER_KEY_FULL = Buffer.concat([PLAYER_KEY_TEXT, KEY_TAIL]); // 62 bytes
const SERVER_KEY_FULL = Buffer.concat([SERVER_KEY_TEXT, KEY_TAIL]); // 68 bytes

/** Version we claim in S1 (FMS-like); non-zero tells the client to look for our digest. */
const SERVER_VERSION = Buffer.from([4, 5, 0, 1]);
/** Version ffmpeg claims in C1 (9.0.124.2). */
const CLIENT_VERSION = Buffer.from([9, 0, 124, 2]);

/** Digest offset schemes: where the 4 offset bytes live; the digest follows at base + sum % 728. */
const SCHEME_BASES = [8, 772] as const;

export interface HandshakeStep {
  /** Bytes to write to the peer, or null. */
  send: Buffer | null;
  /** The handshake is complete. */
  done: boolean;
  /** Bytes that followed the handshake (start of the chunk stream), or null if none. */
  rest: Buffer | null;
}

const hmac = (key: Buffer, ...parts: Buffer[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const p of parts) {
    h.update(p);
  }
  return h.digest();
};

const digestOffset = (packet: Buffer, base: number): number =>
  ((packet[base] + packet[base + 1] + packet[base + 2] + packet[base + 3]) % 728) + base + 4;

/** HMAC of a 1536-byte packet excluding the 32 digest bytes at `offset`. */
const packetDigest = (packet: Buffer, offset: number, key: Buffer): Buffer =>
  hmac(key, packet.subarray(0, offset), packet.subarray(offset + DIGEST_SIZE));

/** The digest of `packet` if it validates with `key` in either scheme, else null. */
export function findDigest(packet: Buffer, key: Buffer): Buffer | null {
  // Plain peers put zeros where the version goes; skip the HMACs for them.
  if (packet.readUInt32BE(4) === 0) {
    return null;
  }
  for (const base of SCHEME_BASES) {
    const offset = digestOffset(packet, base);
    const expected = packetDigest(packet, offset, key);
    const actual = packet.subarray(offset, offset + DIGEST_SIZE);
    if (timingSafeEqual(expected, actual)) {
      return Buffer.from(actual);
    }
  }
  return null;
}

/** Fill a fresh C1/S1 with time, version, random bytes and a digest in scheme `base`; returns its digest. */
function imprintDigest(packet: Buffer, version: Buffer, key: Buffer, base: number): Buffer {
  packet.writeUInt32BE(0, 0);
  version.copy(packet, 4);
  const offset = digestOffset(packet, base);
  const digest = packetDigest(packet, offset, key);
  digest.copy(packet, offset);
  return digest;
}

/** C2/S2 in digest mode: random bytes ending with an HMAC keyed by HMAC(fullKey, peer digest). */
function signedResponse(peerDigest: Buffer, fullKey: Buffer): Buffer {
  const packet = randomBytes(HANDSHAKE_SIZE);
  const key = hmac(fullKey, peerDigest);
  hmac(key, packet.subarray(0, HANDSHAKE_SIZE - DIGEST_SIZE)).copy(packet, HANDSHAKE_SIZE - DIGEST_SIZE);
  return packet;
}

function checkVersion(byte: number): void {
  if (byte !== RTMP_VERSION) {
    throw new ProtocolError('MS_ERR_RTMP_HANDSHAKE', `unsupported RTMP version ${byte} (only 3 is accepted)`);
  }
}

/**
 * Gathers a fixed number of bytes across pushes into a preallocated buffer, so a peer feeding one
 * byte at a time costs no allocations and nobody can make us buffer more than the handshake size.
 */
class Collector {
  private readonly buf: Buffer;
  private filled = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.filled;
  }

  /** Copy from data[offset..]; returns the new offset. */
  take(data: Buffer, offset: number): number {
    const n = Math.min(this.buf.length - this.filled, data.length - offset);
    data.copy(this.buf, this.filled, offset, offset + n);
    this.filled += n;
    return offset + n;
  }

  get full(): boolean {
    return this.filled === this.buf.length;
  }

  get bytes(): Buffer {
    return this.buf;
  }
}

const restOf = (data: Buffer, offset: number): Buffer | null => (offset < data.length ? data.subarray(offset) : null);

/** Server side: waits for C0+C1, answers S0+S1+S2, then waits for C2 (not validated). */
export class RtmpServerHandshake {
  private state: 'c0c1' | 'c2' | 'done' = 'c0c1';
  private c0c1: Collector | null = new Collector(1 + HANDSHAKE_SIZE);
  private c2: Collector | null = null;
  private digest = false;

  /** Whether the client used the Flash Player 9+ digest scheme (known once S0+S1+S2 was sent). */
  get digestMode(): boolean {
    return this.digest;
  }

  push(data: Buffer): HandshakeStep {
    let offset = 0;
    let send: Buffer | null = null;
    if (this.state === 'c0c1') {
      const c0c1 = this.c0c1!;
      offset = c0c1.take(data, offset);
      // Reject a wrong version as soon as its byte arrives rather than after 1536 more.
      if (c0c1.length > 0) {
        checkVersion(c0c1.bytes[0]);
      }
      if (!c0c1.full) {
        return { send: null, done: false, rest: null };
      }
      send = this.respond(c0c1.bytes.subarray(1));
      this.c0c1 = null;
      this.c2 = new Collector(HANDSHAKE_SIZE);
      this.state = 'c2';
    }
    if (this.state === 'c2') {
      const c2 = this.c2!;
      offset = c2.take(data, offset);
      if (!c2.full) {
        return { send, done: false, rest: null };
      }
      // C2 is deliberately not checked: ffmpeg's digest-mode C2 matches neither the echo nor our
      // signature scheme exactly, and a bad C2 proves nothing harmful about the peer.
      this.c2 = null;
      this.state = 'done';
    }
    return { send, done: true, rest: restOf(data, offset) };
  }

  private respond(c1: Buffer): Buffer {
    const out = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_SIZE);
    randomBytes(HANDSHAKE_SIZE).copy(s1);
    const clientDigest = findDigest(c1, PLAYER_KEY_TEXT);
    if (clientDigest === null) {
      s1.writeUInt32BE(0, 0); // time: we start our epoch at 0
      s1.writeUInt32BE(0, 4); // zeros: plain handshake
      c1.copy(s2);
      return out;
    }
    this.digest = true;
    imprintDigest(s1, SERVER_VERSION, SERVER_KEY_TEXT, SCHEME_BASES[0]);
    signedResponse(clientDigest, SERVER_KEY_FULL).copy(s2);
    return out;
  }
}

/**
 * Client side (used by tests, relays and pull clients): sends a digest C1 like ffmpeg so the server's
 * digest path gets exercised, then answers S1 with C2 once S0+S1+S2 arrived.
 */
export class RtmpClientHandshake {
  private state: 'init' | 's0s1s2' | 'done' = 'init';
  private s0s1s2: Collector | null = null;
  private c1Digest: Buffer | null = null;
  private digest = false;
  private signatureOk = false;

  /** Whether the server answered with a valid S1 digest. */
  get digestMode(): boolean {
    return this.digest;
  }

  /** Whether S2 carried the signature expected for our C1 digest (digest mode only). */
  get serverSignatureValid(): boolean {
    return this.signatureOk;
  }

  /** C0+C1. */
  start(): Buffer {
    if (this.state !== 'init') {
      throw new ProtocolError('MS_ERR_RTMP_HANDSHAKE', 'handshake already started');
    }
    const out = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const c1 = out.subarray(1);
    randomBytes(HANDSHAKE_SIZE).copy(c1);
    this.c1Digest = imprintDigest(c1, CLIENT_VERSION, PLAYER_KEY_TEXT, SCHEME_BASES[0]);
    this.s0s1s2 = new Collector(1 + 2 * HANDSHAKE_SIZE);
    this.state = 's0s1s2';
    return out;
  }

  push(data: Buffer): HandshakeStep {
    if (this.state === 'init') {
      throw new ProtocolError('MS_ERR_RTMP_HANDSHAKE', 'data before the handshake was started');
    }
    if (this.state === 'done') {
      return { send: null, done: true, rest: data.length > 0 ? data : null };
    }
    const collector = this.s0s1s2!;
    const offset = collector.take(data, 0);
    if (collector.length > 0) {
      checkVersion(collector.bytes[0]);
    }
    if (!collector.full) {
      return { send: null, done: false, rest: null };
    }
    const s1 = collector.bytes.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = collector.bytes.subarray(1 + HANDSHAKE_SIZE);
    const serverDigest = findDigest(s1, SERVER_KEY_TEXT);
    let c2: Buffer;
    if (serverDigest === null) {
      c2 = Buffer.from(s1);
    } else {
      this.digest = true;
      const key = hmac(SERVER_KEY_FULL, this.c1Digest!);
      const expected = hmac(key, s2.subarray(0, HANDSHAKE_SIZE - DIGEST_SIZE));
      this.signatureOk = timingSafeEqual(expected, s2.subarray(HANDSHAKE_SIZE - DIGEST_SIZE));
      c2 = signedResponse(serverDigest, PLAYER_KEY_FULL);
    }
    this.s0s1s2 = null;
    this.state = 'done';
    return { send: c2, done: true, rest: restOf(data, offset) };
  }
}
