/**
 * Session keys: the Flash-profile derivation (RFC 7425 §4.6, rtmfp.md §2.5) from the exact SKIC
 * and SKRC bytes as sent and the minimal DH secret S,
 *
 *   initiator→responder key = HMAC-SHA256(S, HMAC-SHA256(SKRC, SKIC))[0, 16)   (server decrypts)
 *   responder→initiator key = HMAC-SHA256(S, HMAC-SHA256(SKIC, SKRC))[0, 16)   (server encrypts)
 *
 * and the responder's CPU-heavy handshake step as one pure task: DH exchange with the client's
 * public key, SKRC, keys. Inputs and outputs are plain Buffers and numbers, so the task can move
 * to a piscina worker unchanged (`computeKeysSync` is the task body; pass the pool's `run` as
 * `RtmfpHandshakeOptions.computeKeys`).
 */
import { createHmac } from 'node:crypto';
import { buildSkrc } from './keyComponents.js';
import { dhExchange, isDhGroup } from './dhGroups.js';

export const SESSION_KEY_SIZE = 16;

const hmac = (key: Uint8Array, data: Uint8Array): Buffer => createHmac('sha256', key).update(data).digest();

export interface SessionKeys {
  /** Encrypts initiator → responder packets (the server's decrypt key). */
  initiatorKey: Buffer;
  /** Encrypts responder → initiator packets (the server's encrypt key). */
  responderKey: Buffer;
}

export function deriveSessionKeys(secret: Uint8Array, skic: Uint8Array, skrc: Uint8Array): SessionKeys {
  return {
    initiatorKey: hmac(secret, hmac(skrc, skic)).subarray(0, SESSION_KEY_SIZE),
    responderKey: hmac(secret, hmac(skic, skrc)).subarray(0, SESSION_KEY_SIZE),
  };
}

export interface KeyRequest {
  groupId: number;
  /** The client's static DH public key for `groupId` (from its certificate). */
  clientPublicKey: Buffer;
  /** The SKIC exactly as received. */
  skic: Buffer;
  /** Our DH private exponent; random when absent (tests pass known vectors). */
  privateKey?: Buffer;
}

export interface KeyResult {
  /** Our SKRC, to send in RIKeying (the keys were derived from these exact bytes). */
  skrc: Buffer;
  /** Server → client packets. */
  encryptKey: Buffer;
  /** Client → server packets. */
  decryptKey: Buffer;
}

/** The async form the handshake calls: in-thread by default, a worker pool's `run` later. */
export type ComputeKeys = (request: KeyRequest) => Promise<KeyResult | null>;

/** Null when the group is unsupported or the client's public key fails validation. */
export function computeKeysSync(request: KeyRequest): KeyResult | null {
  const { groupId, clientPublicKey, skic, privateKey } = request;
  if (!isDhGroup(groupId)) {
    return null;
  }
  const exchange = dhExchange(groupId, clientPublicKey, privateKey);
  if (exchange === null) {
    return null;
  }
  const skrc = buildSkrc(groupId, exchange.publicKey);
  const keys = deriveSessionKeys(exchange.secret, skic, skrc);
  return { skrc, encryptKey: keys.responderKey, decryptKey: keys.initiatorKey };
}

/** The default `ComputeKeys`: runs the task on this thread (exceptions become rejections). */
export const computeKeysInThread: ComputeKeys = (request) =>
  new Promise((resolve) => {
    resolve(computeKeysSync(request));
  });
