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

/** Does the initiator insist on HMAC or session sequence numbers, which we do not implement? */
export const requiresExtensions = (c: InitiatorComponent): boolean =>
  (c.hmacFlags & NegotiationFlag.REQUIRE) !== 0 || (c.sseqFlags & NegotiationFlag.REQUIRE) !== 0;

/** Our SKRC for `publicKey` (already padded to the prime size). */
export function buildSkrc(groupId: number, publicKey: Uint8Array): Buffer {
  const key = encodeOptions([[KeyingOption.DH_PUBLIC_KEY, Buffer.concat([encodeVlu(groupId), publicKey])]], false);
  return Buffer.concat([SKRC_PREFIX, key]);
}

/** An SKIC like Flash's (client side and tests): group select, 64 random bytes, HMAC and SSEQ on request. */
export function buildSkic(groupId: number, random: Uint8Array = randomBytes(64)): Buffer {
  return encodeOptions(
    [
      [KeyingOption.DH_GROUP_SELECT, encodeVlu(groupId)],
      [KeyingOption.EXTRA_RANDOMNESS, random],
      [KeyingOption.HMAC_NEGOTIATION, Buffer.from([NegotiationFlag.SEND_ON_REQUEST, 10])],
      [KeyingOption.SSEQ_NEGOTIATION, Buffer.from([NegotiationFlag.SEND_ON_REQUEST])],
    ],
    false,
  );
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
