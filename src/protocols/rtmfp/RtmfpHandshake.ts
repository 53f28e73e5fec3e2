/**
 * The RTMFP startup responder (rtmfp.md §2.1): IHello → RHello with a stateless cookie, IIKeying
 * → DH and session keys → RIKeying. It creates no session and runs no hook: it returns a decision
 * and the caller (the session layer, or the front door of a worker setup) acts on it.
 *
 * ```ts
 * const handshake = new RtmfpHandshake({ kernels: loadKernels(), urlDecisions: hooks.onHandshake !== undefined });
 * socket.on('message', (msg, rinfo) => {
 *   if (readSessionId(msg, 0) !== 0) { ...session packet...; return; }
 *   void handshake.receive(msg, rinfo.address, rinfo.port).then((d) => {
 *     if (d === null) return;                                 // dropped, counted in handshake.stats
 *     switch (d.kind) {
 *       case 'rhello': case 'rikeying': send(d.datagram); break;
 *       case 'url':    // IHello for rtmfp://...: run onHandshake(address, parseRtmfpUrl(d.url)...)
 *         send(addresses.length > 0 ? handshake.redirect(d.tag, addresses) : handshake.rhello(d.tag, host, port)); break;
 *       case 'peer':   // rendezvous: find the session whose peer ID is d.peerId (or onRendezVousUnknown)
 *         send(handshake.redirect(d.tag, targetAddresses));
 *         // and in the target's session: writeForwardedIHello(buf, o, d.epd, {host, port, origin: OBSERVED}, d.tag)
 *         break;
 *       case 'keying': // create the session with the keys, then answer
 *         const ssid = allocateSessionId();
 *         send(d.respond(ssid));                            // later repeats of this IIKeying get the same bytes
 *     }
 *   });
 * });
 * ```
 * Decision fields are copies: they stay valid after `receive` returns. Every datagram returned
 * is a startup packet (default key): RHello and Redirect with SSID 0, RIKeying with the
 * initiator's SSID (rtmfp.md §2.1).
 *
 * Flood resistance: nothing is stored per IHello (the cookie is an HMAC, `StatelessCookies`);
 * IIKeying costs one DH only with a genuine, fresh cookie for the packet's source address, and at
 * most `maxKeyingInFlight` DH computations run at once (more are dropped and counted). Answers are
 * kept per cookie (bounded, expiring with the cookie) so a repeated IIKeying gets the identical
 * RIKeying, and a repeat while the first is still being computed is dropped.
 */
import type { Kernels, PacketKey } from '../../kernels/Kernels.js';
import { RTMFP_CONTENT_OFFSET, RTMFP_MAX_CONTENT } from '../../kernels/Kernels.js';
import { formatAddress } from './address.js';
import type { RtmfpAddress } from './address.js';
import { buildServerCertificate, certificateDhKey, certificateFingerprint, peerIdOf } from './crypto/certificate.js';
import { computeKeysInThread } from './crypto/computeKeys.js';
import type { ComputeKeys, KeyResult, SessionOptions } from './crypto/computeKeys.js';
import { isDhGroup } from './crypto/dhGroups.js';
import { readSkic } from './crypto/keyComponents.js';
import { COOKIE_SIZE, CookieCheck, StatelessCookies } from './crypto/StatelessCookies.js';
import { parseEpd } from './epd.js';
import { readIHello, readIIKeying, writeRHello, writeRIKeying, writeRedirect } from './handshakeChunks.js';
import type { IHelloChunk, IIKeyingChunk } from './handshakeChunks.js';
import { HandshakeStats } from './HandshakeStats.js';
import { AddressLimits } from '../../util/AddressLimits.js';
import {
  Chunk, ChunkIterator, DEFAULT_KEY, Mode, PacketHeader, allocStartupPacket, readPacketHeader, readSessionId, timestampOf,
  writePacketHeader,
} from './RtmfpPacket.js';

export { HandshakeStats } from './HandshakeStats.js';

export interface RtmfpHandshakeOptions {
  kernels: Kernels;
  /** Cookie HMAC key; random per instance by default. */
  secret?: Buffer;
  /** Default 95 s. */
  cookieLifetimeMs?: number;
  /** DH computations running at once; default 16 (rtmfp-cpp). */
  maxKeyingInFlight?: number;
  /** DH computations one source address may have running at once; default 4 (loopback: no limit). */
  maxKeyingPerAddress?: number;
  /** Answered cookies kept for repeated IIKeying; default 4096. */
  maxAnswers?: number;
  /** Where DH runs; default in-thread. A piscina pool's `run` fits. */
  computeKeys?: ComputeKeys;
  /** Return URL IHellos as `{ kind: 'url' }` (for an onHandshake hook) instead of answering them. */
  urlDecisions?: boolean;
  /** Our certificate; default a fresh 77-byte Stratus-layout one. */
  certificate?: Buffer;
  /**
   * The private key of the static DH key in `certificate` (a client answering P2P handshakes, as
   * Flash does): sessions are keyed with it, not with a fresh key, because a Flash-style
   * initiator derives the secret from our certificate before it even sees our SKRC.
   */
  staticPrivateKey?: Buffer;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface RHelloDecision {
  kind: 'rhello';
  datagram: Buffer;
}

/** An IHello naming a URL, returned only with `urlDecisions`. */
export interface UrlDecision {
  kind: 'url';
  url: string;
  tag: Buffer;
  epd: Buffer;
}

/** An IHello naming another peer: rendezvous (rtmfp.md §4.1). */
export interface PeerDecision {
  kind: 'peer';
  peerId: Buffer;
  tag: Buffer;
  /** As received: forward it in the FIHello. */
  epd: Buffer;
}

/** A valid IIKeying: the session can be created; `respond` gives the RIKeying to send. */
export interface KeyingDecision {
  kind: 'keying';
  /** The session ID the client chose: put it in every packet we send it. */
  initiatorSsid: number;
  /** SHA-256 of the client certificate (its identity for rendezvous and groups). */
  peerId: Buffer;
  clientCertificate: Buffer;
  groupId: number;
  /** Server → client packets. */
  encryptKey: Buffer;
  /** Client → server packets. */
  decryptKey: Buffer;
  /** RFC 7425 HMAC and session sequence numbers of each direction, as negotiated. */
  options: SessionOptions;
  /** The RIKeying announcing our session ID; built once, later calls return the same bytes. */
  respond(responderSsid: number): Buffer;
}

/** A repeated IIKeying already answered: resend this. */
export interface RepeatDecision {
  kind: 'rikeying';
  datagram: Buffer;
}

export type StartupDecision = RHelloDecision | UrlDecision | PeerDecision | KeyingDecision | RepeatDecision;

/** Largest startup datagram accepted (rtmfp-cpp sends up to about 4256 bytes). */
const MAX_STARTUP_PLAINTEXT = 4400;

/** Flags and timestamp of the startup packets we send. */
const MAX_HEADER = 3;

/** Tags longer than this are refused (Flash and rtmfp-cpp send 16 bytes). */
const MAX_TAG = 64;

interface Answer {
  expiresAt: number;
  initiatorSsid: number;
  skic: Buffer;
  /** Null while DH runs or until the caller responds. */
  datagram: Buffer | null;
}

export class RtmfpHandshake {
  readonly certificate: Buffer;
  /** SHA-256 of `certificate`: an IHello naming it is for us. */
  readonly fingerprint: Buffer;
  readonly stats = new HandshakeStats();
  private readonly kernels: Kernels;
  private readonly defaultKey: PacketKey;
  private readonly cookies: StatelessCookies;
  private readonly computeKeys: ComputeKeys;
  private readonly staticPrivateKey: Buffer | null;
  private readonly maxInFlight: number;
  private readonly maxAnswers: number;
  private readonly urlDecisions: boolean;
  private readonly now: () => number;
  private readonly answers = new Map<string, Answer>();
  private inFlight = 0;
  private readonly perAddress: AddressLimits;
  /** Startup packets may be larger than session ones (rtmfp-cpp: multi-key certificates). */
  private readonly plain = Buffer.alloc(MAX_STARTUP_PLAINTEXT);
  private readonly header = new PacketHeader();
  private readonly chunks = new ChunkIterator();
  private readonly cookie = Buffer.alloc(COOKIE_SIZE);

  constructor(options: RtmfpHandshakeOptions) {
    this.kernels = options.kernels;
    this.defaultKey = this.kernels.createPacketKey(DEFAULT_KEY);
    this.now = options.now ?? Date.now;
    this.cookies = new StatelessCookies(options.secret, options.cookieLifetimeMs, this.now);
    this.computeKeys = options.computeKeys ?? computeKeysInThread;
    this.staticPrivateKey = options.staticPrivateKey ?? null;
    this.maxInFlight = options.maxKeyingInFlight ?? 16;
    this.perAddress = new AddressLimits(options.maxKeyingPerAddress ?? 4);
    this.maxAnswers = options.maxAnswers ?? 4096;
    this.urlDecisions = options.urlDecisions ?? false;
    this.certificate = options.certificate ?? buildServerCertificate();
    this.fingerprint = certificateFingerprint(this.certificate);
  }

  /** DH computations running now. */
  get keyingInFlight(): number {
    return this.inFlight;
  }

  /** Answered (or pending) cookies kept for repeats. */
  get answersKept(): number {
    return this.answers.size;
  }

  /**
   * Handles one datagram whose session ID is 0, from `host:port`. Resolves to a decision, or to
   * null when the datagram is dropped (the reason is counted in `stats`). Never rejects. Only an
   * IIKeying waits (for `computeKeys`); everything else resolves at once.
   */
  async receive(datagram: Buffer, host: string, port: number): Promise<StartupDecision | null> {
    try {
      return await this.handle(datagram, host, port);
    } catch {
      this.stats.errors++;
      return null;
    }
  }

  private handle(datagram: Buffer, host: string, port: number): StartupDecision | Promise<StartupDecision | null> | null {
    const stats = this.stats;
    if (readSessionId(datagram, 0) !== 0 || datagram.length - 4 > this.plain.length) {
      stats.badDatagram++;
      return null;
    }
    const n = this.kernels.decryptPacket(this.defaultKey, datagram, 0, datagram.length, this.plain, 0);
    if (n < 0 || !readPacketHeader(this.plain, 2, n, this.header) || this.header.mode !== Mode.STARTUP) {
      stats.badDatagram++;
      return null;
    }
    for (const chunks = this.chunks.reset(this.plain, this.header.chunksStart, n); chunks.next(); ) {
      if (chunks.type === Chunk.IHELLO) {
        return this.onIHello(readIHello(this.plain, chunks.start, chunks.payloadEnd), host, port);
      }
      if (chunks.type === Chunk.IIKEYING) {
        return this.onIIKeying(readIIKeying(this.plain, chunks.start, chunks.payloadEnd), host, port);
      }
    }
    stats.unknownChunk++;
    return null;
  }

  private onIHello(hello: IHelloChunk | null, host: string, port: number): StartupDecision | null {
    const stats = this.stats;
    stats.ihello++;
    if (hello === null || hello.tag.length > MAX_TAG) {
      stats.badChunk++;
      return null;
    }
    const epd = parseEpd(hello.epd);
    if (epd === null) {
      stats.badEpd++;
      return null;
    }
    if (epd.peerId !== null && !epd.peerId.equals(this.fingerprint)) {
      stats.peerDecisions++;
      return { kind: 'peer', peerId: Buffer.from(epd.peerId), tag: Buffer.from(hello.tag), epd: Buffer.from(hello.epd) };
    }
    if (epd.url !== null && this.urlDecisions && epd.peerId === null) {
      stats.urlDecisions++;
      return { kind: 'url', url: epd.url, tag: Buffer.from(hello.tag), epd: Buffer.from(hello.epd) };
    }
    return { kind: 'rhello', datagram: this.rhello(hello.tag, host, port) };
  }

  /** An RHello for `tag` with a fresh cookie bound to `host:port`. */
  rhello(tag: Uint8Array, host: string, port: number): Buffer {
    this.cookies.issue(formatAddress({ host, port }), this.cookie, 0);
    const buf = allocStartupPacket(3 + 1 + tag.length + 1 + COOKIE_SIZE + this.certificate.length + MAX_HEADER);
    const o = this.startupHeader(buf);
    const end = writeRHello(buf, o, tag, this.cookie, this.certificate);
    this.stats.rhello++;
    return this.seal(buf, 0, end);
  }

  /** A Redirect for `tag` to `addresses` (as many as fit; non-IP hosts skipped). */
  redirect(tag: Uint8Array, addresses: readonly RtmfpAddress[]): Buffer {
    const buf = allocStartupPacket(RTMFP_MAX_CONTENT);
    const o = this.startupHeader(buf);
    const end = writeRedirect(buf, o, RTMFP_CONTENT_OFFSET + RTMFP_MAX_CONTENT, tag, addresses);
    this.stats.redirect++;
    return this.seal(buf, 0, end);
  }

  private startupHeader(buf: Buffer): number {
    return writePacketHeader(buf, RTMFP_CONTENT_OFFSET, Mode.STARTUP, timestampOf(this.now()), -1);
  }

  private seal(buf: Buffer, ssid: number, end: number): Buffer {
    return buf.subarray(0, this.kernels.encryptPacket(this.defaultKey, ssid, buf, end, buf, 0));
  }

  private async onIIKeying(keying: IIKeyingChunk | null, host: string, port: number): Promise<StartupDecision | null> {
    const stats = this.stats;
    stats.iikeying++;
    if (keying === null) {
      stats.badChunk++;
      return null;
    }
    const check = this.cookies.check(keying.cookie, formatAddress({ host, port }));
    if (check !== CookieCheck.VALID) {
      if (check === CookieCheck.EXPIRED) {
        stats.cookieExpired++;
      } else if (check === CookieCheck.OTHER_ADDRESS) {
        stats.cookieOtherAddress++;
      } else {
        stats.cookieForged++;
      }
      return null;
    }
    const cookieKey = keying.cookie.toString('latin1');
    const known = this.answers.get(cookieKey);
    if (known !== undefined) {
      if (known.initiatorSsid !== keying.initiatorSsid || !known.skic.equals(keying.skic)) {
        stats.cookieReused++;
        return null;
      }
      if (known.datagram === null) {
        stats.keyingBusy++;
        return null;
      }
      stats.repeatedKeying++;
      return { kind: 'rikeying', datagram: known.datagram };
    }
    const peerId = peerIdOf(keying.certificate);
    const component = readSkic(keying.skic);
    if (peerId === null || component === null || component.groupId < 0) {
      stats.badKeying++;
      return null;
    }
    if (!isDhGroup(component.groupId)) {
      stats.unsupportedGroup++;
      return null;
    }
    const clientKey = certificateDhKey(keying.certificate, component.groupId);
    if (clientKey === null) {
      stats.badKeying++;
      return null;
    }
    if (this.staticPrivateKey !== null && certificateDhKey(this.certificate, component.groupId) === null) {
      stats.unsupportedGroup++; // our static key is of another group
      return null;
    }
    if (this.inFlight >= this.maxInFlight) {
      stats.overloaded++;
      return null;
    }
    // One address must not hold every DH slot: the others' handshakes would all be dropped.
    if (!this.perAddress.acquire(host)) {
      stats.addressBusy++;
      return null;
    }
    // Copies: the packet buffer is reused as soon as we yield.
    const { initiatorSsid } = keying;
    const groupId = component.groupId;
    const clientCertificate = Buffer.from(keying.certificate);
    const skic = Buffer.from(keying.skic);
    const answer: Answer = { expiresAt: this.cookies.expiresAt(keying.cookie), initiatorSsid, skic, datagram: null };
    this.remember(cookieKey, answer);
    this.inFlight++;
    let result: KeyResult | null;
    try {
      const staticKey = this.staticPrivateKey === null ? {} : { privateKey: this.staticPrivateKey, staticKey: true };
      result = await this.computeKeys({ groupId, clientPublicKey: Buffer.from(clientKey), skic, ...staticKey });
    } catch (err) {
      this.answers.delete(cookieKey);
      throw err;
    } finally {
      this.inFlight--;
      this.perAddress.release(host);
    }
    if (result === null) {
      this.answers.delete(cookieKey);
      stats.badPublicKey++;
      return null;
    }
    const { skrc, encryptKey, decryptKey, options } = result;
    stats.keyingDecisions++;
    const respond = (responderSsid: number): Buffer => {
      if (answer.datagram === null) {
        const buf = allocStartupPacket(MAX_HEADER + 3 + 4 + 3 + skrc.length + 1);
        const end = writeRIKeying(buf, this.startupHeader(buf), responderSsid, skrc);
        answer.datagram = this.seal(buf, initiatorSsid, end);
      }
      return answer.datagram;
    };
    return { kind: 'keying', initiatorSsid, peerId, clientCertificate, groupId, encryptKey, decryptKey, options, respond };
  }

  /** Keeps `answer` for its cookie's lifetime, dropping expired and, past the bound, oldest ones. */
  private remember(cookieKey: string, answer: Answer): void {
    const now = this.now();
    for (const [key, kept] of this.answers) {
      if (kept.expiresAt > now && this.answers.size < this.maxAnswers) {
        break;
      }
      this.answers.delete(key);
    }
    this.answers.set(cookieKey, answer);
  }
}
