/**
 * What the responder's handshake gives initiators beyond the Flash profile: RFC 7425 HMAC and
 * session sequence numbers negotiated as rtmfp-cpp asks for them (its SKIC, its reading of the
 * answer), and the static-key responder a client needs to answer a Flash-style P2P initiator,
 * which derives the secret from the responder's certificate before it sees the SKRC.
 */
import assert from 'node:assert/strict';
import { createDiffieHellman, getDiffieHellman, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import { buildClientCertificate } from '../../../src/protocols/rtmfp/crypto/certificate.js';
import { deriveFullKeys, deriveSessionKeys, hmacKeyOf } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import {
  KeyingOption, REQUIRE_ALL, SKRC_PREFIX, buildSkic, negotiateAsInitiator, readSkic, readSkrc,
} from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { readRHello, readRIKeying } from '../../../src/protocols/rtmfp/handshakeChunks.js';
import { RtmfpHandshake } from '../../../src/protocols/rtmfp/RtmfpHandshake.js';
import type { KeyingDecision, RtmfpHandshakeOptions } from '../../../src/protocols/rtmfp/RtmfpHandshake.js';
import { Chunk, writePacketHeader } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import { TestInitiator, chunksOf, defaultKey, ihelloDatagram, kernels, open } from './rtmfpTestKit.js';

const HOST = '198.51.100.21';
const PORT = 50001;

function onlyChunk(datagram: Buffer): [number, Buffer] {
  const { chunks } = chunksOf(open(defaultKey, datagram)!);
  assert.equal(chunks.length, 1);
  return chunks[0];
}

/** IHello → cookie → IIKeying → the keying decision and the SKRC of our RIKeying. */
async function handshakeWith(options: Partial<RtmfpHandshakeOptions>, initiator: TestInitiator): Promise<{ decision: KeyingDecision | null; skrc: Buffer | null; certificate: Buffer }> {
  const handshake = new RtmfpHandshake({ kernels, ...options });
  const hello = await handshake.receive(ihelloDatagram('rtmfp://example.net/live', randomBytes(16)), HOST, PORT);
  assert.equal(hello?.kind, 'rhello');
  const [, rhelloPayload] = onlyChunk(hello.datagram);
  const rhello = readRHello(rhelloPayload, 0, rhelloPayload.length)!;
  const d = await handshake.receive(initiator.iikeying(Buffer.from(rhello.cookie)), HOST, PORT);
  if (d === null) {
    return { decision: null, skrc: null, certificate: Buffer.from(rhello.certificate) };
  }
  assert.equal(d.kind, 'keying');
  const [type, payload] = onlyChunk(d.respond(0x1234));
  assert.equal(type, Chunk.RIKEYING);
  return { decision: d, skrc: Buffer.from(readRIKeying(payload, 0, payload.length)!.skrc), certificate: Buffer.from(rhello.certificate) };
}

const unpadded = (secret: Buffer): Buffer => {
  let i = 0;
  while (i < secret.length - 1 && secret[i] === 0) {
    i++;
  }
  return secret.subarray(i);
};

/** A datagram from the initiator with its negotiated options, opened by the responder's decrypt key. */
function initiatorPacketOpens(decision: KeyingDecision, encrypt: Buffer, options: Parameters<typeof kernels.createPacketKey>[1]): boolean {
  const sealer = kernels.createPacketKey(encrypt, options);
  const opener = kernels.createPacketKey(decision.decryptKey, decision.options.decrypt);
  const buf = Buffer.alloc(128);
  const end = writePacketHeader(buf, RTMFP_CONTENT_OFFSET, 0x89, 1, -1);
  buf.set([0x01, 0x00, 0x00], end);
  const out = Buffer.alloc(128);
  const n = kernels.encryptPacket(sealer, 0x1234, buf, end + 3, out, 0);
  const wire = Buffer.from(out.subarray(0, n));
  return kernels.decryptPacket(opener, wire, 0, n, wire, 4) > 0;
}

void describe('RtmfpHandshake: RFC 7425 packet options', () => {
  void it('an initiator requiring HMAC and sequence numbers (rtmfp-cpp) gets 03 1A 07 0A | 02 1E 07 and keys that use them', async () => {
    const initiator = new TestInitiator(2, 0x02000000, buildSkic(2, randomBytes(64), REQUIRE_ALL, 16));
    const { decision, skrc } = await handshakeWith({}, initiator);
    assert.ok(decision !== null && skrc !== null);
    assert.ok(skrc.subarray(0, 7).equals(Buffer.from('031a070a021e07', 'hex')), skrc.subarray(0, 7).toString('hex'));
    const answer = readSkic(skrc)!;
    assert.deepEqual([answer.hmacFlags, answer.hmacLength, answer.sseqFlags], [7, 10, 7]);
    const n = negotiateAsInitiator(REQUIRE_ALL, skrc)!;
    assert.deepEqual(n, { hmacSend: true, hmacReceive: true, hmacReceiveLength: 10, sseqSend: true, sseqReceive: true });
    assert.equal(decision.options.decrypt.hmacLength, 16, 'the initiator\'s tag length');
    assert.equal(decision.options.encrypt.hmacLength, 10);
    assert.equal(decision.options.encrypt.sequenceNumbers, true);
    // The initiator's keys, derived only from what it has: S, SKIC, SKRC.
    const secret = unpadded(initiator.dh.computeSecret(readSkrc(skrc)!.publicKey));
    const full = deriveFullKeys(secret, initiator.skic, skrc);
    assert.ok(full.initiatorKey.subarray(0, 16).equals(decision.decryptKey));
    assert.ok(hmacKeyOf(secret, full.initiatorKey).equals(Buffer.from(decision.options.decrypt.hmacKey!)));
    assert.ok(hmacKeyOf(secret, full.responderKey).equals(Buffer.from(decision.options.encrypt.hmacKey!)));
    assert.ok(initiatorPacketOpens(decision, full.initiatorKey.subarray(0, 16), { hmacKey: hmacKeyOf(secret, full.initiatorKey), hmacLength: 16, sequenceNumbers: true }));
    assert.ok(!initiatorPacketOpens(decision, full.initiatorKey.subarray(0, 16), {}), 'a packet without tag or sequence number is refused');
  });

  void it('Flash and librtmfp (on request only) get the exact Flash answer and plain keys', async () => {
    const initiator = new TestInitiator(2);
    const { decision, skrc } = await handshakeWith({}, initiator);
    assert.ok(decision !== null && skrc !== null);
    assert.ok(skrc.subarray(0, 7).equals(SKRC_PREFIX));
    assert.deepEqual(decision.options, { encrypt: {}, decrypt: {} });
  });

  void it('sequence numbers only, HMAC only, and a tag length outside 4..32 refused', async () => {
    const sseqOnly = Buffer.concat([
      buildSkic(2, randomBytes(64), 0x02, 10).subarray(0, 3 + 66),
      Buffer.from([0x03, KeyingOption.HMAC_NEGOTIATION, 0x02, 10, 0x02, KeyingOption.SSEQ_NEGOTIATION, REQUIRE_ALL]),
    ]);
    const a = await handshakeWith({}, new TestInitiator(2, 0x02000000, sseqOnly));
    assert.ok(a.skrc!.subarray(0, 7).equals(Buffer.from('031a0000021e07', 'hex')), a.skrc!.subarray(0, 7).toString('hex'));
    assert.deepEqual(a.decision!.options, { encrypt: { sequenceNumbers: true }, decrypt: { sequenceNumbers: true } });
    const badLength = buildSkic(2, randomBytes(64), REQUIRE_ALL, 40);
    const b = await handshakeWith({}, new TestInitiator(2, 0x02000000, badLength));
    assert.equal(b.decision, null);
  });
});

void describe('RtmfpHandshake: static-key responder (a client answering a Flash-style P2P initiator)', () => {
  void it('keys from the two certificates alone; the SKRC carries 64 random bytes, no public key (73 bytes)', async () => {
    const responderDh = createDiffieHellman(getDiffieHellman('modp2').getPrime(), 2);
    responderDh.setPrivateKey(randomBytes(32));
    const responderPublic = responderDh.generateKeys();
    const certificate = buildClientCertificate([{ groupId: 2, publicKey: responderPublic }]);
    const initiator = new TestInitiator(2);
    const { decision, skrc, certificate: announced } = await handshakeWith({ certificate, staticPrivateKey: responderDh.getPrivateKey() }, initiator);
    assert.ok(announced.equals(certificate));
    assert.ok(decision !== null && skrc !== null);
    assert.equal(skrc.length, 73);
    assert.ok(skrc.subarray(0, 9).equals(Buffer.from('031a0000021e00410e', 'hex')));
    assert.equal(readSkrc(skrc), null, 'no DH public key in it');
    // A Flash-style initiator computed S from our certificate's static key before the RIKeying.
    const secret = unpadded(initiator.dh.computeSecret(responderPublic));
    const keys = deriveSessionKeys(secret, initiator.skic, skrc);
    assert.ok(keys.initiatorKey.equals(decision.decryptKey));
    assert.ok(keys.responderKey.equals(decision.encryptKey));
    assert.ok(initiatorPacketOpens(decision, keys.initiatorKey, {}));
  });

  void it('refuses a group its static key is not of', async () => {
    const responderDh = createDiffieHellman(getDiffieHellman('modp2').getPrime(), 2);
    responderDh.setPrivateKey(randomBytes(32));
    const certificate = buildClientCertificate([{ groupId: 2, publicKey: responderDh.generateKeys() }]);
    const { decision } = await handshakeWith({ certificate, staticPrivateKey: responderDh.getPrivateKey() }, new TestInitiator(14));
    assert.equal(decision, null);
  });
});
