/**
 * Session key components (rtmfp.md §2.3), option lists exchanged in IIKeying (SKIC, initiator)
 * and RIKeying (SKRC, responder); the session keys are derived from their exact bytes.
 *
 * SKIC from Flash/librtmfp: `02 1D 02` (DH group select 2) | `41 0E` + 64 random | `03 1A 02 0A`
 * (HMAC "send on request", length 10) | `02 1E 02` (session sequence numbers "on request").
 * SKRC from a Flash-compatible server: `03 1A 00 00` | `02 1E 00` (neither HMAC nor sequence
 * numbers) | option 0x0D = `VLU group` + our DH public key. librtmfp insists on exactly those
 * first 7 bytes and reads the key from byte 11, so the key is always sent padded to the prime
 * size (SKRC is 139 bytes for group 2, 203 for 5, 267 for 14).
 *
 * RFC 7425 §4.6 lets each side ask for HMAC and session sequence numbers (flags SND "I always
 * send", SOR "I send on request", REQ "I require"). We never ask for them ourselves and send them
 * on request: an initiator with REQ gets them, one with SND has them checked. Flash and librtmfp
 * offer SOR only, so they get the Flash answer above; rtmfp-cpp requires both by default
 * (SND|SOR|REQ) and gets `03 1A 07 0A` | `02 1E 07` (rtmfp-cpp `negotiateFlags` reads it so).
 */
import { randomBytes } from 'node:crypto';
import { OptionReader, OptionsEnd, encodeOptions } from '../options.js';
import { encodeVlu, readVlu } from '../vlu.js';

export const KeyingOption = {
  DH_PUBLIC_KEY: 0x0d,
  EXTRA_RANDOMNESS: 0x0e,
  HMAC_NEGOTIATION: 0x1a,
  DH_GROUP_SELECT: 0x1d,
  SSEQ_NEGOTIATION: 0x1e,
} as const;

/** Negotiation flag bits (HMAC and session sequence numbers). */
export const NegotiationFlag = { SEND_ALWAYS: 0x04, SEND_ON_REQUEST: 0x02, REQUIRE: 0x01 } as const;

/** The fixed start of a Flash-profile server SKRC: no HMAC, no session sequence numbers. */
export const SKRC_PREFIX: Readonly<Buffer> = Buffer.from('031a0000021e00', 'hex');

export interface InitiatorComponent {
  /** The DH group the initiator selected (option 0x1D), or -1 if absent. */
  groupId: number;
  hmacFlags: number;
  hmacLength: number;
  sseqFlags: number;
}

const reader = new OptionReader();

/** Parses an SKIC; null if its option list is malformed. */
export function readSkic(skic: Buffer): InitiatorComponent | null {
  const out: InitiatorComponent = { groupId: -1, hmacFlags: 0, hmacLength: 0, sseqFlags: 0 };
  const r = reader.reset(skic, 0, skic.length);
  while (r.next()) {
    const size = r.valueEnd - r.valueStart;
    if (r.type === KeyingOption.DH_GROUP_SELECT) {
      out.groupId = r.valueVlu();
    } else if (r.type === KeyingOption.HMAC_NEGOTIATION && size >= 1) {
      out.hmacFlags = skic[r.valueStart];
      out.hmacLength = size >= 2 ? readVlu(skic, r.valueEnd, { pos: r.valueStart + 1 }) : 0;
    } else if (r.type === KeyingOption.SSEQ_NEGOTIATION && size >= 1) {
      out.sseqFlags = skic[r.valueStart];
    }
  }
  return r.ended === OptionsEnd.MALFORMED ? null : out;
}

/** The tag length we send (Flash's; RFC 2104 §5 asks for at least 80 bits). */
export const HMAC_SEND_LENGTH = 10;
const HMAC_MIN_LENGTH = 4;
const HMAC_MAX_LENGTH = 32;

/** What a session uses of the RFC 7425 packet options, per direction. */
export interface Negotiation {
  hmacSend: boolean;
  hmacReceive: boolean;
  /** The initiator's tag length (when hmacReceive). */
  hmacReceiveLength: number;
  sseqSend: boolean;
  sseqReceive: boolean;
}

/** The responder's side of the negotiation; null if the initiator sends tags of a length outside 4..32. */
export function negotiate(c: InitiatorComponent): Negotiation | null {
  const hmacReceive = (c.hmacFlags & NegotiationFlag.SEND_ALWAYS) !== 0;
  if (hmacReceive && (c.hmacLength < HMAC_MIN_LENGTH || c.hmacLength > HMAC_MAX_LENGTH)) {
    return null;
  }
  return {
    hmacSend: (c.hmacFlags & NegotiationFlag.REQUIRE) !== 0,
    hmacReceive,
    hmacReceiveLength: hmacReceive ? c.hmacLength : 0,
    sseqSend: (c.sseqFlags & NegotiationFlag.REQUIRE) !== 0,
    sseqReceive: (c.sseqFlags & NegotiationFlag.SEND_ALWAYS) !== 0,
  };
}

/** Our flags for one option: SOR, plus SND and REQ as negotiated; 0 (Flash's answer) when unused. */
const answerFlags = (send: boolean, receive: boolean): number =>
  send || receive ? NegotiationFlag.SEND_ON_REQUEST | (send ? NegotiationFlag.SEND_ALWAYS : 0) | (receive ? NegotiationFlag.REQUIRE : 0) : 0;

/** Our SKRC for `publicKey` (already padded to the prime size). */
export function buildSkrc(groupId: number, publicKey: Uint8Array, n: Negotiation | null = null): Buffer {
  return withNegotiation(encodeOptions([[KeyingOption.DH_PUBLIC_KEY, Buffer.concat([encodeVlu(groupId), publicKey])]], false), n);
}

/** The SKRC of a responder whose key is the static one of its certificate: 64 random bytes instead of a public key. */
export function buildStaticSkrc(n: Negotiation | null = null, random: Uint8Array = randomBytes(64)): Buffer {
  return withNegotiation(encodeOptions([[KeyingOption.EXTRA_RANDOMNESS, random]], false), n);
}

/** The negotiation options, then `key` (the DH public key or the randomness). */
function withNegotiation(key: Buffer, n: Negotiation | null): Buffer {
  const hmac = n === null ? 0 : answerFlags(n.hmacSend, n.hmacReceive);
  const sseq = n === null ? 0 : answerFlags(n.sseqSend, n.sseqReceive);
  if (hmac === 0 && sseq === 0) {
    return Buffer.concat([SKRC_PREFIX, key]);
  }
  const prefix = encodeOptions(
    [
      [KeyingOption.HMAC_NEGOTIATION, Buffer.from(hmac === 0 ? [0, 0] : [hmac, HMAC_SEND_LENGTH])],
      [KeyingOption.SSEQ_NEGOTIATION, Buffer.from([sseq])],
    ],
    false,
  );
  return Buffer.concat([prefix, key]);
}

/** What rtmfp-cpp's initiators offer by default: always send, on request, require (both options). */
export const REQUIRE_ALL = NegotiationFlag.SEND_ALWAYS | NegotiationFlag.SEND_ON_REQUEST | NegotiationFlag.REQUIRE;

/**
 * An SKIC (client side and tests): group select, 64 random bytes, HMAC and SSEQ negotiation,
 * by default as Flash offers them (on request, tag length 10); `flags` REQUIRE_ALL with
 * `hmacLength` 16 is rtmfp-cpp's default.
 */
export function buildSkic(groupId: number, random: Uint8Array = randomBytes(64), flags: number = NegotiationFlag.SEND_ON_REQUEST, hmacLength = 10): Buffer {
  return encodeOptions(
    [
      [KeyingOption.DH_GROUP_SELECT, encodeVlu(groupId)],
      [KeyingOption.EXTRA_RANDOMNESS, random],
      [KeyingOption.HMAC_NEGOTIATION, Buffer.from([flags, hmacLength])],
      [KeyingOption.SSEQ_NEGOTIATION, Buffer.from([flags])],
    ],
    false,
  );
}

/**
 * The initiator's side of the negotiation (rtmfp-cpp `negotiateFlags`) for our `flags` (the same
 * for both options) and the responder's SKRC; null when we require an option the responder will
 * not send, or its tag length is outside 4..32.
 */
export function negotiateAsInitiator(flags: number, skrc: Buffer): Negotiation | null {
  const r = readSkic(skrc);
  if (r === null) {
    return null;
  }
  const requires = (flags & NegotiationFlag.REQUIRE) !== 0;
  const offers = (peer: number): boolean => (peer & (NegotiationFlag.SEND_ALWAYS | NegotiationFlag.SEND_ON_REQUEST)) !== 0;
  if (requires && (!offers(r.hmacFlags) || !offers(r.sseqFlags))) {
    return null;
  }
  const hmacReceive = requires || (r.hmacFlags & NegotiationFlag.SEND_ALWAYS) !== 0;
  if (hmacReceive && (r.hmacLength < HMAC_MIN_LENGTH || r.hmacLength > HMAC_MAX_LENGTH)) {
    return null;
  }
  const always = (flags & NegotiationFlag.SEND_ALWAYS) !== 0;
  return {
    hmacSend: always || (r.hmacFlags & NegotiationFlag.REQUIRE) !== 0,
    hmacReceive,
    hmacReceiveLength: hmacReceive ? r.hmacLength : 0,
    sseqSend: always || (r.sseqFlags & NegotiationFlag.REQUIRE) !== 0,
    sseqReceive: requires || (r.sseqFlags & NegotiationFlag.SEND_ALWAYS) !== 0,
  };
}

/** The responder's DH group and public key from an SKRC (client side); null if absent. */
export function readSkrc(skrc: Buffer): { groupId: number; publicKey: Buffer } | null {
  const r = reader.reset(skrc, 0, skrc.length);
  while (r.next()) {
    if (r.type === KeyingOption.DH_PUBLIC_KEY) {
      const at = { pos: r.valueStart };
      const groupId = readVlu(skrc, r.valueEnd, at);
      if (groupId >= 0 && at.pos < r.valueEnd) {
        return { groupId, publicKey: skrc.subarray(at.pos, r.valueEnd) };
      }
    }
  }
  return null;
}
