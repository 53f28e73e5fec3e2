/**
 * Shared helpers for the RTMFP wire tests: the recorded vectors of ../shared/vectors/rtmfp, and a
 * minimal initiator (the test's own client side of the handshake, built on node:crypto and the
 * module's chunk writers) to drive `RtmfpHandshake` end to end.
 */
import { createDiffieHellman, getDiffieHellman, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsKernels } from '../../../src/kernels/index.js';
import type { Kernels } from '../../../src/kernels/index.js';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import { buildClientCertificate } from '../../../src/protocols/rtmfp/crypto/certificate.js';
import type { DhGroupId } from '../../../src/protocols/rtmfp/crypto/dhGroups.js';
import { buildSkic } from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { epdForUrl } from '../../../src/protocols/rtmfp/epd.js';
import { writeIHello, writeIIKeying } from '../../../src/protocols/rtmfp/handshakeChunks.js';
import {
  ChunkIterator, DEFAULT_KEY, Mode, PacketHeader, allocStartupPacket, readPacketHeader, writePacketHeader,
} from '../../../src/protocols/rtmfp/RtmfpPacket.js';

const here = dirname(fileURLToPath(import.meta.url));
export const VECTORS = join(here, '../../../../shared/vectors/rtmfp');

export const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

export interface CapturePacket {
  name: string;
  file: string;
  direction: 'client->server' | 'server->client';
  ssid: number;
  key: 'default' | 'serverDecrypt' | 'serverEncrypt';
  wire: string;
  plaintext: string;
}

export interface FlashSession {
  serverDhPrivateKey: string;
  clientCertificate: string;
  skic: string;
  skrc: string;
  sharedSecret: string;
  clientPeerId: string;
  serverDecryptKey: string;
  serverEncryptKey: string;
  initiatorSessionId: number;
  responderSessionId: number;
  packets: CapturePacket[];
}

export interface LibrtmfpSession {
  dhGroup: number;
  serverDhPrivateKey: string;
  clientCertificate: string;
  skic: string;
  skrc: string;
  sharedSecret: string;
  clientPeerId: string;
  serverDecryptKey: string;
  serverEncryptKey: string;
  firstClientDatagram: { ssid: number; wire: string; plaintext: string };
}

export const flashSession = (): FlashSession =>
  JSON.parse(readFileSync(join(VECTORS, 'flash-11.7/session.json'), 'utf8')) as FlashSession;

export const librtmfpSession = (): LibrtmfpSession =>
  JSON.parse(readFileSync(join(VECTORS, 'librtmfp-session.json'), 'utf8')) as LibrtmfpSession;

export const captureFile = (file: string): Buffer => hex(readFileSync(join(VECTORS, 'flash-11.7', file), 'utf8'));

export const kernels: Kernels = new TsKernels();
export const defaultKey = kernels.createPacketKey(DEFAULT_KEY);

/** Decrypts a datagram into a fresh buffer; returns the plaintext (checksum first) or null. */
export function open(key: ReturnType<Kernels['createPacketKey']>, datagram: Buffer): Buffer | null {
  const out = Buffer.alloc(datagram.length);
  const n = kernels.decryptPacket(key, datagram, 0, datagram.length, out, 0);
  return n < 0 ? null : out.subarray(0, n);
}

/** The chunks of a plaintext (checksum first) as `[type, payload]` pairs, after its header. */
export function chunksOf(plain: Buffer): { header: PacketHeader; chunks: [number, Buffer][]; malformed: boolean } {
  const header = new PacketHeader();
  if (!readPacketHeader(plain, 2, plain.length, header)) {
    throw new Error('bad header');
  }
  const it = new ChunkIterator().reset(plain, header.chunksStart, plain.length);
  const chunks: [number, Buffer][] = [];
  while (it.next()) {
    chunks.push([it.type, plain.subarray(it.start, it.payloadEnd)]);
  }
  return { header, chunks, malformed: it.malformed };
}

/** A startup datagram (default key) whose content is written by `write` from the given offset. */
export function startupDatagram(ssid: number, write: (buf: Buffer, offset: number) => number, timestamp = 0x1234): Buffer {
  const buf = allocStartupPacket(1400);
  const o = writePacketHeader(buf, RTMFP_CONTENT_OFFSET, Mode.STARTUP, timestamp, -1);
  const end = write(buf, o);
  return buf.subarray(0, kernels.encryptPacket(defaultKey, ssid, buf, end, buf, 0));
}

export const ihelloDatagram = (url: string, tag: Buffer): Buffer =>
  startupDatagram(0, (buf, o) => writeIHello(buf, o, epdForUrl(url), tag));

/** The client side of one DH group: certificate with its public key, SKIC selecting it. */
export class TestInitiator {
  readonly dh;
  readonly publicKey: Buffer;
  readonly certificate: Buffer;
  readonly skic: Buffer;

  constructor(
    readonly groupId: DhGroupId,
    readonly ssid = 0x02000000,
    skic: Buffer | null = null,
  ) {
    const name = groupId === 2 ? 'modp2' : groupId === 5 ? 'modp5' : 'modp14';
    this.dh = createDiffieHellman(getDiffieHellman(name).getPrime(), 2);
    this.dh.setPrivateKey(randomBytes(32));
    this.publicKey = this.dh.generateKeys();
    this.certificate = buildClientCertificate([{ groupId, publicKey: this.publicKey }]);
    this.skic = skic ?? buildSkic(groupId);
  }

  iikeying(cookie: Buffer): Buffer {
    return startupDatagram(0, (buf, o) => writeIIKeying(buf, o, this.ssid, cookie, this.certificate, this.skic));
  }
}
