/**
 * Diffie-Hellman for the RTMFP handshake (rtmfp.md §2.4): MODP groups 2 (1024-bit, the one Flash
 * and librtmfp use), 5 (1536) and 14 (2048, what rtmfp-cpp picks against a Stratus certificate).
 *
 * One `DiffieHellman` object per group, created on first use and kept (creating one validates the
 * prime: ~40-100 ms); each exchange sets a fresh private key on it, derives the public key and
 * the secret in one synchronous call, so the shared object never leaks state between sessions.
 * The peer's public key is validated first (RFC 7425 §4.6.2, as rtmfp-cpp does): within
 * [2^24, p - 2^24] and at least 16 one bits and 16 zero bits. The secret is returned minimal
 * (leading zero bytes stripped): Node pads it to the prime size, every other implementation
 * does not, and about 1 session in 256 would otherwise derive the wrong keys.
 *
 * Pure functions of node:crypto only, so the module can run in a piscina worker as is.
 */
import { createDiffieHellman, getDiffieHellman, randomBytes } from 'node:crypto';
import type { DiffieHellman } from 'node:crypto';

export type DhGroupId = 2 | 5 | 14;
export const DH_GROUPS: readonly DhGroupId[] = [2, 5, 14];

export const isDhGroup = (id: number): id is DhGroupId => id === 2 || id === 5 || id === 14;

const NODE_NAMES: Record<DhGroupId, string> = { 2: 'modp2', 5: 'modp5', 14: 'modp14' };
/** Private exponent sizes: 224 bits for group 2 and 320 for 14 as rtmfp-cpp, 256 between. */
const PRIVATE_KEY_BYTES: Record<DhGroupId, number> = { 2: 28, 5: 32, 14: 40 };

interface Group {
  readonly dh: DiffieHellman;
  readonly prime: Buffer;
  /** p - 2^24, the largest acceptable public key. */
  readonly maxPublic: bigint;
}

const groups = new Map<DhGroupId, Group>();

function group(id: DhGroupId): Group {
  let g = groups.get(id);
  if (g === undefined) {
    const prime = getDiffieHellman(NODE_NAMES[id]).getPrime();
    g = { dh: createDiffieHellman(prime, 2), prime, maxPublic: toBigInt(prime) - (1n << 24n) };
    groups.set(id, g);
  }
  return g;
}

const toBigInt = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));

/** Size of the group's prime in bytes (128, 192, 256). */
export const primeSize = (id: DhGroupId): number => group(id).prime.length;

/** `bytes` without its leading zero bytes (a view). */
export function stripLeadingZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) {
    i++;
  }
  return bytes.subarray(i);
}

/** `bytes` left-padded with zeros to `size` (a copy), or `bytes` itself if already that long. */
export function padLeft(bytes: Buffer, size: number): Buffer {
  if (bytes.length >= size) {
    return bytes;
  }
  const out = Buffer.alloc(size);
  bytes.copy(out, size - bytes.length);
  return out;
}

const popcount8 = (b: number): number => {
  let v = b - ((b >> 1) & 0x55);
  v = (v & 0x33) + ((v >> 2) & 0x33);
  return (v + (v >> 4)) & 0x0f;
};

/** RFC 7425 §4.6.2 checks on a peer's public key. */
export function isValidPublicKey(id: DhGroupId, key: Buffer): boolean {
  const k = stripLeadingZeros(key);
  // >= 2^24 means at least 4 significant bytes (2^24 itself is 01 00 00 00).
  if (k.length < 4 || k.length > group(id).prime.length) {
    return false;
  }
  let ones = 0;
  for (const b of k) {
    ones += popcount8(b);
  }
  const bits = k.length * 8 - Math.clz32(k[0]) + 24;
  if (ones < 16 || bits - ones < 16) {
    return false;
  }
  return toBigInt(k) <= group(id).maxPublic;
}

export interface DhExchange {
  /** Our public key, left-padded to the prime size (SKRC form). */
  publicKey: Buffer;
  /** The shared secret, minimal (leading zeros stripped). */
  secret: Buffer;
}

/** A fresh private exponent of the group's size. */
export const newPrivateKey = (id: DhGroupId): Buffer => randomBytes(PRIVATE_KEY_BYTES[id]);

/** Our public key for `privateKey`, left-padded to the prime size. */
export function publicKeyOf(id: DhGroupId, privateKey: Buffer): Buffer {
  const g = group(id);
  g.dh.setPrivateKey(privateKey);
  return padLeft(g.dh.generateKeys(), g.prime.length);
}

/**
 * One exchange: our key pair from `privateKey` (random by default) and the secret with
 * `peerPublicKey`. Null if the peer's key fails validation.
 */
export function dhExchange(id: DhGroupId, peerPublicKey: Buffer, privateKey: Buffer = newPrivateKey(id)): DhExchange | null {
  if (!isValidPublicKey(id, peerPublicKey)) {
    return null;
  }
  const g = group(id);
  g.dh.setPrivateKey(privateKey);
  const publicKey = padLeft(g.dh.generateKeys(), g.prime.length);
  let secret: Buffer;
  try {
    secret = g.dh.computeSecret(peerPublicKey);
  } catch {
    return null;
  }
  return { publicKey, secret: Buffer.from(stripLeadingZeros(secret)) };
}
