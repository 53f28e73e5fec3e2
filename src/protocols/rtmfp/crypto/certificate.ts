/**
 * Certificates (rtmfp.md §2.2): the 77-byte server certificate every Flash-compatible server
 * sends (Stratus layout, which librtmfp reads as exactly 77 bytes), and the client certificate
 * whose static DH public keys we pick from.
 *
 * Server: `01 0A` (accepts ancillary data) | `41 0E` + 64 random bytes | `02 15 02` | `02 15 05`
 * | `02 15 0E` (DH groups 2, 5, 14).
 * Client: an option list; option 0x1D = static DH public key (`VLU group`, key). Flash sends one
 * (`81 02 1D 02` + 128 bytes); rtmfp-cpp several (groups 16, 14, 2). Only options before the
 * first marker count: they are what the peer ID covers.
 *
 * Peer ID = SHA-256 of the certificate up to and including its first marker (all of it for Flash
 * certificates, which have none): rtmfp.md §2.2, verified against librtmfp's printed ID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { OptionReader, encodeOptions } from '../options.js';
import { encodeVlu, readVlu } from '../vlu.js';
import type { DhGroupId } from './dhGroups.js';

export const CertificateOption = {
  HOSTNAME: 0x00,
  ACCEPTS_ANCILLARY_DATA: 0x0a,
  EXTRA_RANDOMNESS: 0x0e,
  SUPPORTED_DH_GROUP: 0x15,
  STATIC_DH_PUBLIC_KEY: 0x1d,
} as const;

export const SERVER_CERTIFICATE_SIZE = 77;

/** A server certificate with fresh randomness (or the given 64 bytes), advertising `groups`. */
export function buildServerCertificate(random: Uint8Array = randomBytes(64), groups: readonly DhGroupId[] = [2, 5, 14]): Buffer {
  return encodeOptions(
    [
      [CertificateOption.ACCEPTS_ANCILLARY_DATA, new Uint8Array(0)],
      [CertificateOption.EXTRA_RANDOMNESS, random],
      ...groups.map((g): [number, Uint8Array] => [CertificateOption.SUPPORTED_DH_GROUP, encodeVlu(g)]),
    ],
    false,
  );
}

/** The server fingerprint a client may pin in an EPD: SHA-256 of the certificate. */
export const certificateFingerprint = (certificate: Uint8Array): Buffer => createHash('sha256').update(certificate).digest();

const reader = new OptionReader();

/**
 * The static DH public key for `groupId` in a client certificate (a view), or null if absent or
 * malformed.
 */
export function certificateDhKey(certificate: Buffer, groupId: number): Buffer | null {
  const r = reader.reset(certificate, 0, certificate.length);
  while (r.next()) {
    if (r.type === CertificateOption.STATIC_DH_PUBLIC_KEY) {
      const at = { pos: r.valueStart };
      const group = readVlu(certificate, r.valueEnd, at);
      if (group === groupId && at.pos < r.valueEnd) {
        return certificate.subarray(at.pos, r.valueEnd);
      }
    }
  }
  return null;
}

/** A client certificate with one static DH key option per entry (what Flash sends for one). */
export function buildClientCertificate(keys: readonly { groupId: DhGroupId; publicKey: Uint8Array }[]): Buffer {
  return encodeOptions(
    keys.map(({ groupId, publicKey }): [number, Uint8Array] => [
      CertificateOption.STATIC_DH_PUBLIC_KEY,
      Buffer.concat([encodeVlu(groupId), publicKey]),
    ]),
    false,
  );
}

/**
 * Where a certificate's signed part ends: just after its first option marker, or its end when it
 * has none (Flash certificates). -1 if the option list is malformed before that.
 */
export function certificateSignedEnd(certificate: Uint8Array): number {
  const at = { pos: 0 };
  while (at.pos < certificate.length) {
    const length = readVlu(certificate, certificate.length, at);
    if (length < 0 || at.pos + length > certificate.length) {
      return -1;
    }
    if (length === 0) {
      return at.pos;
    }
    at.pos += length;
  }
  return certificate.length;
}

/** Peer ID = SHA-256 of the certificate up to and including its first marker; null if malformed. */
export function peerIdOf(certificate: Uint8Array): Buffer | null {
  const end = certificateSignedEnd(certificate);
  return end < 0 ? null : createHash('sha256').update(certificate.subarray(0, end)).digest();
}
