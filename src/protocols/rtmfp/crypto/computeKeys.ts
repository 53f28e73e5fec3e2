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
import type { PacketKeyOptions } from '../../../kernels/Kernels.js';
import { HMAC_SEND_LENGTH, type Negotiation, buildSkrc, buildStaticSkrc, negotiate, readSkic } from './keyComponents.js';
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
  const full = deriveFullKeys(secret, skic, skrc);
  return { initiatorKey: full.initiatorKey.subarray(0, SESSION_KEY_SIZE), responderKey: full.responderKey.subarray(0, SESSION_KEY_SIZE) };
}

/** The 32-byte keys before truncation: the HMAC keys derive from them. */
export const deriveFullKeys = (secret: Uint8Array, skic: Uint8Array, skrc: Uint8Array): SessionKeys => ({
  initiatorKey: hmac(secret, hmac(skrc, skic)),
  responderKey: hmac(secret, hmac(skic, skrc)),
});

/**
 * The packet options of both directions of the responder's session (RFC 7425 §4.6, rtmfp-cpp
 * `computeKeysAndNonces`): each direction's HMAC key is HMAC-SHA256(S, that direction's full
 * 32-byte key). Plain objects (structured-clone safe: they cross to workers as they are).
 */
export interface SessionOptions {
  encrypt: PacketKeyOptions;
  decrypt: PacketKeyOptions;
}

/** The HMAC key of one direction: HMAC-SHA256(S, that direction's full key). */
export const hmacKeyOf = (secret: Uint8Array, fullKey: Uint8Array): Buffer => hmac(secret, fullKey);

function sessionOptions(secret: Uint8Array, full: SessionKeys, n: Negotiation): SessionOptions {
  const encrypt: PacketKeyOptions = n.sseqSend ? { sequenceNumbers: true } : {};
  const decrypt: PacketKeyOptions = n.sseqReceive ? { sequenceNumbers: true } : {};
  if (n.hmacSend) {
    encrypt.hmacKey = hmac(secret, full.responderKey);
    encrypt.hmacLength = HMAC_SEND_LENGTH;
  }
  if (n.hmacReceive) {
    decrypt.hmacKey = hmac(secret, full.initiatorKey);
    decrypt.hmacLength = n.hmacReceiveLength;
  }
  return { encrypt, decrypt };
}

export interface KeyRequest {
  groupId: number;
  /** The client's static DH public key for `groupId` (from its certificate). */
  clientPublicKey: Buffer;
  /** The SKIC exactly as received. */
  skic: Buffer;
  /** Our DH private exponent; random when absent (tests pass known vectors). */
  privateKey?: Buffer;
  /**
   * `privateKey` is the static key of our certificate (a Flash peer answering a P2P handshake):
   * the initiator already derived S from the certificate, so our SKRC carries 64 random bytes
   * instead of a public key (librtmfp `FlowManager::getNonce`: 73 bytes with the Flash prefix).
   */
  staticKey?: boolean;
}

export interface KeyResult {
  /** Our SKRC, to send in RIKeying (the keys were derived from these exact bytes). */
  skrc: Buffer;
  /** Server → client packets. */
  encryptKey: Buffer;
  /** Client → server packets. */
  decryptKey: Buffer;
  /** HMAC and session sequence numbers as negotiated (empty objects: the Flash profile). */
  options: SessionOptions;
}

/** The async form the handshake calls: in-thread by default, a worker pool's `run` later. */
export type ComputeKeys = (request: KeyRequest) => Promise<KeyResult | null>;

/**
 * Null when the group is unsupported, the client's public key fails validation or its SKIC asks
 * for options we cannot give (an HMAC length outside 4..32).
 */
export function computeKeysSync(request: KeyRequest): KeyResult | null {
  const { groupId, clientPublicKey, skic, privateKey } = request;
  const component = readSkic(skic);
  const negotiation = component === null ? null : negotiate(component);
  if (!isDhGroup(groupId) || negotiation === null) {
    return null;
  }
  const exchange = dhExchange(groupId, clientPublicKey, privateKey);
  if (exchange === null) {
    return null;
  }
  const skrc = request.staticKey === true ? buildStaticSkrc(negotiation) : buildSkrc(groupId, exchange.publicKey, negotiation);
  const full = deriveFullKeys(exchange.secret, skic, skrc);
  return {
    skrc,
    encryptKey: full.responderKey.subarray(0, SESSION_KEY_SIZE),
    decryptKey: full.initiatorKey.subarray(0, SESSION_KEY_SIZE),
    options: sessionOptions(exchange.secret, full, negotiation),
  };
}

/** The default `ComputeKeys`: runs the task on this thread (exceptions become rejections). */
export const computeKeysInThread: ComputeKeys = (request) =>
  new Promise((resolve) => {
    resolve(computeKeysSync(request));
  });
