import { randomBytes } from 'node:crypto';
import type { Kernels, PacketKey } from '../../kernels/Kernels.js';
import { RTMFP_CONTENT_OFFSET } from '../../kernels/Kernels.js';
import type { RtmfpAddress } from '../../protocols/rtmfp/address.js';
import { buildClientCertificate, certificateDhKey, peerIdOf } from '../../protocols/rtmfp/crypto/certificate.js';
import { SESSION_KEY_SIZE, deriveFullKeys, hmacKeyOf } from '../../protocols/rtmfp/crypto/computeKeys.js';
import { type DhGroupId, dhExchange, newPrivateKey, publicKeyOf } from '../../protocols/rtmfp/crypto/dhGroups.js';
import { NegotiationFlag, REQUIRE_ALL, buildSkic, negotiateAsInitiator, readSkrc } from '../../protocols/rtmfp/crypto/keyComponents.js';
import { readRHello, readRIKeying, readRedirect, writeIHello, writeIIKeying } from '../../protocols/rtmfp/handshakeChunks.js';
import {
  Chunk, ChunkIterator, DEFAULT_KEY, Mode, PacketHeader, allocStartupPacket, readPacketHeader, timestampOf, writePacketHeader,
} from '../../protocols/rtmfp/RtmfpPacket.js';

/** What a finished handshake gives the client session. */
export interface InitiatorResult {
  /** The responder's session ID: goes in every packet we send. */
  farSsid: number;
  encryptKey: PacketKey;
  decryptKey: PacketKey;
  /** Where the RHello came from (after redirections, the address that answered). */
  address: RtmfpAddress;
  /** The responder's certificate (RHello). */
  certificate: Buffer;
}

const plain = Buffer.alloc(4400);
const MAX_REDIRECTS = 8;
const header = new PacketHeader();
const chunks = new ChunkIterator();

/**
 * The initiator's side of the startup handshake (rtmfp.md §2.1), for our client: IHello (to the
 * server and, after a Redirect, to every address it lists: the first RHello wins), IIKeying with
 * our certificate and DH group 2 key, then the RIKeying gives the session keys. Retries with
 * back-off as librtmfp does; the owner feeds it the startup datagrams its socket receives.
 */
export class RtmfpInitiator {
  readonly tag = randomBytes(16);
  private readonly groupId: DhGroupId = 2;
  private readonly privateKey: Buffer;
  private readonly defaultKey: PacketKey;
  private cookie: Buffer | null = null;
  private responder: RtmfpAddress | null = null;
  private responderCertificate: Buffer | null = null;
  private readonly skic: Buffer;
  /** Our RFC 7425 negotiation flags (HMAC and sequence numbers alike). */
  private readonly optionFlags: number;
  private targets: RtmfpAddress[];
  private attempts = 0;
  private redirects = 0;
  private timer: NodeJS.Timeout | null = null;
  private done = false;

  constructor(
    private readonly kernels: Kernels,
    /** The identity of the client: its certificate and SSID are shared by all its handshakes. */
    readonly identity: RtmfpIdentity,
    private readonly epd: Buffer,
    first: RtmfpAddress,
    private readonly send: (datagram: Buffer, address: RtmfpAddress) => void,
    private readonly onDone: (result: InitiatorResult | Error) => void,
    private readonly maxAttempts = 8,
    /** Require HMAC and session sequence numbers as rtmfp-cpp does (tag length 16); default: offer them on request, as Flash. */
    requireOptions = false,
  ) {
    this.optionFlags = requireOptions ? REQUIRE_ALL : NegotiationFlag.SEND_ON_REQUEST;
    this.skic = buildSkic(2, randomBytes(64), this.optionFlags, requireOptions ? 16 : 10);
    this.privateKey = identity.privateKey;
    this.defaultKey = kernels.createPacketKey(DEFAULT_KEY);
    this.targets = [first];
  }

  start(): void {
    this.sendHello();
  }

  /**
   * (Re)sends the IHello, or the IIKeying once a cookie arrived; backs off 1.5 s per attempt.
   * Right after a Redirect only the new addresses get the IHello; retransmissions go to all.
   */
  private sendHello(only: RtmfpAddress[] | null = null): void {
    if (this.done) {
      return;
    }
    if (++this.attempts > this.maxAttempts) {
      this.finish(new Error(`RTMFP handshake: no answer after ${this.maxAttempts} attempts`));
      return;
    }
    if (this.cookie !== null && this.responder !== null) {
      const cookie = this.cookie;
      this.send(this.startup((buf, o) => writeIIKeying(buf, o, this.identity.ssid, cookie, this.identity.certificate, this.skic)), this.responder);
    } else {
      const datagram = this.startup((buf, o) => writeIHello(buf, o, this.epd, this.tag));
      for (const target of only ?? this.targets) {
        this.send(datagram, target);
      }
    }
    this.timer = setTimeout(() => this.sendHello(), 1500 * Math.min(this.attempts, 4));
  }

  private startup(write: (buf: Buffer, offset: number) => number): Buffer {
    const buf = allocStartupPacket(1400);
    const o = writePacketHeader(buf, RTMFP_CONTENT_OFFSET, Mode.STARTUP, timestampOf(Date.now()), -1);
    const end = write(buf, o);
    return buf.subarray(0, this.kernels.encryptPacket(this.defaultKey, 0, buf, end, buf, 0));
  }

  /**
   * A startup datagram from `from` (session ID 0, or our SSID for the RIKeying). Returns true if
   * it belonged to this handshake.
   */
  receive(datagram: Buffer, from: RtmfpAddress): boolean {
    if (this.done) {
      return false;
    }
    const n = this.kernels.decryptPacket(this.defaultKey, datagram, 0, datagram.length, plain, 0);
    if (n < 0 || !readPacketHeader(plain, 2, n, header) || header.mode !== Mode.STARTUP) {
      return false;
    }
    for (chunks.reset(plain, header.chunksStart, n); chunks.next(); ) {
      switch (chunks.type) {
        case Chunk.RHELLO: {
          const hello = readRHello(plain, chunks.start, chunks.payloadEnd);
          if (hello === null || !hello.tag.equals(this.tag) || this.cookie !== null) {
            return false;
          }
          this.cookie = Buffer.from(hello.cookie);
          this.responderCertificate = Buffer.from(hello.certificate);
          this.responder = from;
          this.restart();
          return true;
        }
        case Chunk.REDIRECT: {
          const redirect = readRedirect(plain, chunks.start, chunks.payloadEnd);
          if (redirect === null || !redirect.tag.equals(this.tag) || this.cookie !== null) {
            return false;
          }
          // Zero addresses means "the sender itself" (rtmfp-cpp); otherwise try every one listed.
          const listed = redirect.addresses.length === 0 ? [from] : redirect.addresses;
          const known = new Set(this.targets.map((t) => `${t.host}:${t.port}`));
          // The listed addresses get the IHello now (a list may name this server again: "try me
          // too, in parallel"); all known targets keep getting the retransmissions.
          this.targets = [...this.targets, ...listed.filter((a) => !known.has(`${a.host}:${a.port}`))];
          if (++this.redirects > MAX_REDIRECTS) {
            this.finish(new Error('RTMFP handshake: too many redirections'));
            return true;
          }
          this.attempts = 0;
          this.restart(listed);
          return true;
        }
        case Chunk.RIKEYING: {
          const keying = readRIKeying(plain, chunks.start, chunks.payloadEnd);
          if (keying === null || this.cookie === null || this.responder === null) {
            return false;
          }
          this.onRIKeying(keying.responderSsid, Buffer.from(keying.skrc));
          return true;
        }
        default: {
          break;
        }
      }
    }
    return false;
  }

  private onRIKeying(responderSsid: number, skrc: Buffer): void {
    // An ephemeral key in the SKRC (servers), else the static one of the responder's certificate
    // (Flash peers answering a P2P handshake).
    const server = readSkrc(skrc);
    const publicKey = server === null ? certificateDhKey(this.responderCertificate!, this.groupId) : server.groupId === this.groupId ? server.publicKey : null;
    if (publicKey === null) {
      this.finish(new Error('RTMFP handshake: responder key component unreadable'));
      return;
    }
    const exchange = dhExchange(this.groupId, publicKey, this.privateKey);
    if (exchange === null) {
      this.finish(new Error('RTMFP handshake: invalid responder public key'));
      return;
    }
    const negotiation = negotiateAsInitiator(this.optionFlags, skrc);
    if (negotiation === null) {
      this.finish(new Error('RTMFP handshake: the responder does not give the HMAC and sequence numbers we require'));
      return;
    }
    const full = deriveFullKeys(exchange.secret, this.skic, skrc);
    const secret = exchange.secret;
    this.finish({
      farSsid: responderSsid,
      encryptKey: this.kernels.createPacketKey(full.initiatorKey.subarray(0, SESSION_KEY_SIZE), {
        sequenceNumbers: negotiation.sseqSend,
        ...(negotiation.hmacSend ? { hmacKey: hmacKeyOf(secret, full.initiatorKey), hmacLength: 16 } : {}),
      }),
      decryptKey: this.kernels.createPacketKey(full.responderKey.subarray(0, SESSION_KEY_SIZE), {
        sequenceNumbers: negotiation.sseqReceive,
        ...(negotiation.hmacReceive ? { hmacKey: hmacKeyOf(secret, full.responderKey), hmacLength: negotiation.hmacReceiveLength } : {}),
      }),
      address: this.responder!,
      certificate: this.responderCertificate!,
    });
  }

  private restart(only: RtmfpAddress[] | null = null): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    this.sendHello(only);
  }

  private finish(result: InitiatorResult | Error): void {
    if (this.done) {
      return;
    }
    this.done = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.onDone(result);
  }

  cancel(): void {
    this.finish(new Error('RTMFP handshake cancelled'));
  }
}

/** A client's long-term identity: DH key pair, certificate, peer ID, and the SSID it announces. */
export class RtmfpIdentity {
  readonly privateKey = newPrivateKey(2);
  readonly publicKey = publicKeyOf(2, this.privateKey);
  readonly certificate = buildClientCertificate([{ groupId: 2, publicKey: this.publicKey }]);
  /** SHA-256 of the certificate up to its first marker: what the server calls our peer ID. */
  readonly peerId = peerIdOf(this.certificate)!;
  /** Our session ID for sessions we open; Flash uses 02000000, any non-zero value works. */
  readonly ssid = (randomBytes(4).readUInt32BE(0) | 1) >>> 0;
}
