/**
 * Handshake chunks (RFC 7016 §2.3.2-2.3.8, rtmfp.md §1.3, §2.1): IHello 0x30, FIHello 0x0F,
 * RHello 0x70, Redirect 0x71, Cookie Change 0x79, IIKeying 0x38, RIKeying 0x78.
 *
 * Readers take the chunk payload bounds (from `ChunkIterator`) and return a small object of views
 * into the packet, or null when the payload is malformed; copy what outlives the packet. Writers
 * write the whole chunk (header included) into a caller buffer that has room (a startup packet
 * is at most `RTMFP_MAX_CONTENT` bytes) and return the offset after it.
 */
import { readAddress, writeAddress } from './address.js';
import type { RtmfpAddress } from './address.js';
import { CHUNK_HEADER_SIZE, Chunk, writeChunkHeader } from './RtmfpPacket.js';
import { vluLength, writeVlu } from './vlu.js';
import { WireReader } from './WireReader.js';

/** Flash and Cumulus end keying chunks with this one-byte "signature". */
export const KEYING_SIGNATURE: Readonly<Buffer> = Buffer.from('X', 'ascii');

const reader = new WireReader();

const fieldLength = (n: number): number => vluLength(n) + n;

const writeField = (buf: Uint8Array, offset: number, bytes: Uint8Array): number => {
  const o = writeVlu(buf, offset, bytes.length);
  buf.set(bytes, o);
  return o + bytes.length;
};

const writeU32 = (buf: Uint8Array, offset: number, value: number): void => {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
};

const done = <T>(value: T): T | null => {
  const failed = reader.failed;
  reader.release();
  return failed ? null : value;
};

export interface IHelloChunk {
  epd: Buffer;
  tag: Buffer;
}

export function readIHello(buf: Buffer, start: number, end: number): IHelloChunk | null {
  const r = reader.reset(buf, start, end);
  const epd = r.field();
  const tag = r.rest();
  return epd === null || tag.length === 0 ? done(null) : done({ epd, tag });
}

export function writeIHello(buf: Uint8Array, offset: number, epd: Uint8Array, tag: Uint8Array): number {
  const o = writeChunkHeader(buf, offset, Chunk.IHELLO, fieldLength(epd.length) + tag.length);
  buf.set(tag, writeField(buf, o, epd));
  return o + fieldLength(epd.length) + tag.length;
}

/** Forwarded IHello: sent by the server inside the target's session (rendezvous, rtmfp.md §4.1). */
export interface ForwardedIHelloChunk {
  epd: Buffer;
  /** Where the initiator can be reached (its observed address). */
  replyAddress: RtmfpAddress;
  tag: Buffer;
}

export function readForwardedIHello(buf: Buffer, start: number, end: number): ForwardedIHelloChunk | null {
  const r = reader.reset(buf, start, end);
  const epd = r.field();
  const replyAddress = epd === null ? null : readAddress(r);
  const tag = r.rest();
  return epd === null || replyAddress === null || tag.length === 0 ? done(null) : done({ epd, replyAddress, tag });
}

/** Returns -1 (nothing written) if `replyAddress.host` is not an IP literal. */
export function writeForwardedIHello(buf: Uint8Array, offset: number, epd: Uint8Array, replyAddress: RtmfpAddress, tag: Uint8Array): number {
  let o = writeField(buf, offset + CHUNK_HEADER_SIZE, epd);
  o = writeAddress(buf, o, replyAddress);
  if (o < 0) {
    return -1;
  }
  buf.set(tag, o);
  o += tag.length;
  writeChunkHeader(buf, offset, Chunk.FORWARDED_IHELLO, o - offset - CHUNK_HEADER_SIZE);
  return o;
}

export interface RHelloChunk {
  tag: Buffer;
  cookie: Buffer;
  /** The responder certificate (the rest of the chunk). */
  certificate: Buffer;
}

export function readRHello(buf: Buffer, start: number, end: number): RHelloChunk | null {
  const r = reader.reset(buf, start, end);
  const tag = r.field();
  const cookie = r.field();
  const certificate = r.rest();
  return tag === null || cookie === null ? done(null) : done({ tag, cookie, certificate });
}

export function writeRHello(buf: Uint8Array, offset: number, tag: Uint8Array, cookie: Uint8Array, certificate: Uint8Array): number {
  const length = fieldLength(tag.length) + fieldLength(cookie.length) + certificate.length;
  let o = writeChunkHeader(buf, offset, Chunk.RHELLO, length);
  o = writeField(buf, o, tag);
  o = writeField(buf, o, cookie);
  buf.set(certificate, o);
  return o + certificate.length;
}

export interface RedirectChunk {
  tag: Buffer;
  /** Empty means "the source address of this packet" (rtmfp-cpp). */
  addresses: RtmfpAddress[];
}

export function readRedirect(buf: Buffer, start: number, end: number): RedirectChunk | null {
  const r = reader.reset(buf, start, end);
  const tag = r.field();
  const addresses: RtmfpAddress[] = [];
  while (tag !== null && r.remaining > 0) {
    const address = readAddress(r);
    if (address === null) {
      return done(null);
    }
    addresses.push(address);
  }
  return tag === null ? done(null) : done({ tag, addresses });
}

/**
 * Writes a Redirect with as many of `addresses` as fit before `limit` (the end of the content
 * area); addresses whose host is not an IP literal are skipped. Returns the offset after it.
 */
export function writeRedirect(buf: Uint8Array, offset: number, limit: number, tag: Uint8Array, addresses: readonly RtmfpAddress[]): number {
  let o = writeField(buf, offset + CHUNK_HEADER_SIZE, tag);
  for (const address of addresses) {
    if (limit - o < 19) {
      break;
    }
    const next = writeAddress(buf, o, address);
    if (next >= 0) {
      o = next;
    }
  }
  writeChunkHeader(buf, offset, Chunk.REDIRECT, o - offset - CHUNK_HEADER_SIZE);
  return o;
}

export interface CookieChangeChunk {
  oldCookie: Buffer;
  newCookie: Buffer;
}

export function readCookieChange(buf: Buffer, start: number, end: number): CookieChangeChunk | null {
  const r = reader.reset(buf, start, end);
  const oldCookie = r.field();
  const newCookie = r.rest();
  return oldCookie === null ? done(null) : done({ oldCookie, newCookie });
}

export function writeCookieChange(buf: Uint8Array, offset: number, oldCookie: Uint8Array, newCookie: Uint8Array): number {
  const o = writeChunkHeader(buf, offset, Chunk.COOKIE_CHANGE, fieldLength(oldCookie.length) + newCookie.length);
  const p = writeField(buf, o, oldCookie);
  buf.set(newCookie, p);
  return p + newCookie.length;
}

export interface IIKeyingChunk {
  initiatorSsid: number;
  cookie: Buffer;
  certificate: Buffer;
  /** Session key initiator component. */
  skic: Buffer;
  signature: Buffer;
}

export function readIIKeying(buf: Buffer, start: number, end: number): IIKeyingChunk | null {
  const r = reader.reset(buf, start, end);
  const initiatorSsid = r.u32();
  const cookie = r.field();
  const certificate = r.field();
  const skic = r.field();
  const signature = r.rest();
  return initiatorSsid < 0 || cookie === null || certificate === null || skic === null
    ? done(null)
    : done({ initiatorSsid, cookie, certificate, skic, signature });
}

export function writeIIKeying(
  buf: Uint8Array,
  offset: number,
  initiatorSsid: number,
  cookie: Uint8Array,
  certificate: Uint8Array,
  skic: Uint8Array,
  signature: Uint8Array = KEYING_SIGNATURE,
): number {
  const length = 4 + fieldLength(cookie.length) + fieldLength(certificate.length) + fieldLength(skic.length) + signature.length;
  let o = writeChunkHeader(buf, offset, Chunk.IIKEYING, length);
  writeU32(buf, o, initiatorSsid);
  o = writeField(buf, o + 4, cookie);
  o = writeField(buf, o, certificate);
  o = writeField(buf, o, skic);
  buf.set(signature, o);
  return o + signature.length;
}

export interface RIKeyingChunk {
  responderSsid: number;
  /** Session key responder component. */
  skrc: Buffer;
  signature: Buffer;
}

export function readRIKeying(buf: Buffer, start: number, end: number): RIKeyingChunk | null {
  const r = reader.reset(buf, start, end);
  const responderSsid = r.u32();
  const skrc = r.field();
  const signature = r.rest();
  return responderSsid < 0 || skrc === null ? done(null) : done({ responderSsid, skrc, signature });
}

export function writeRIKeying(buf: Uint8Array, offset: number, responderSsid: number, skrc: Uint8Array, signature: Uint8Array = KEYING_SIGNATURE): number {
  let o = writeChunkHeader(buf, offset, Chunk.RIKEYING, 4 + fieldLength(skrc.length) + signature.length);
  writeU32(buf, o, responderSsid);
  o = writeField(buf, o + 4, skrc);
  buf.set(signature, o);
  return o + signature.length;
}
