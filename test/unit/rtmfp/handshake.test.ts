/**
 * The startup responder driven by the test's own initiator (node:crypto DH, the module's chunk
 * writers): DH groups 2, 5 and 14 end to end, stateless cookies (round trip, expiry, forgery,
 * other address), identical answers to repeated IIKeying, the DH in-flight cap, and the URL /
 * peer decisions the session layer acts on.
 */
import assert from 'node:assert/strict';
import { createDiffieHellman, getDiffieHellman, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import { AddressOrigin } from '../../../src/protocols/rtmfp/address.js';
import { buildClientCertificate, peerIdOf } from '../../../src/protocols/rtmfp/crypto/certificate.js';
import type { KeyRequest, KeyResult } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import { computeKeysSync } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import type { DhGroupId } from '../../../src/protocols/rtmfp/crypto/dhGroups.js';
import { dhExchange, isValidPublicKey, padLeft } from '../../../src/protocols/rtmfp/crypto/dhGroups.js';
import { buildSkic, readSkrc, SKRC_PREFIX } from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { deriveSessionKeys } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import { CookieCheck, StatelessCookies } from '../../../src/protocols/rtmfp/crypto/StatelessCookies.js';
import { epdForPeerId, parseEpd } from '../../../src/protocols/rtmfp/epd.js';
import { readRHello, readRIKeying, readRedirect, writeIHello } from '../../../src/protocols/rtmfp/handshakeChunks.js';
import { RtmfpHandshake } from '../../../src/protocols/rtmfp/RtmfpHandshake.js';
import type { KeyingDecision, RtmfpHandshakeOptions, StartupDecision } from '../../../src/protocols/rtmfp/RtmfpHandshake.js';
import { Chunk, Mode, readSessionId, writePacketHeader } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import { TestInitiator, chunksOf, defaultKey, ihelloDatagram, kernels, open, startupDatagram } from './rtmfpTestKit.js';

const HOST = '198.51.100.20';
const PORT = 50000;
const tag = (): Buffer => randomBytes(16);

const newHandshake = (options: Partial<RtmfpHandshakeOptions> = {}): RtmfpHandshake => new RtmfpHandshake({ kernels, ...options });

/** The only chunk of a startup datagram we received. */
function startupChunk(datagram: Buffer, expectedSsid: number): [number, Buffer] {
  assert.equal(readSessionId(datagram, 0), expectedSsid);
  const plain = open(defaultKey, datagram);
  assert.ok(plain !== null, 'default key, valid checksum');
  const { header, chunks } = chunksOf(plain);
  assert.equal(header.mode, Mode.STARTUP);
  assert.ok(header.timestamp >= 0, 'every packet we send carries a timestamp (rtmfp.md §8.12)');
  assert.equal(chunks.length, 1);
  return chunks[0];
}

async function getCookie(handshake: RtmfpHandshake, host = HOST, port = PORT): Promise<Buffer> {
  const t = tag();
  const d = await handshake.receive(ihelloDatagram('rtmfp://example.net/live', t), host, port);
  assert.equal(d?.kind, 'rhello');
  const [type, payload] = startupChunk(d.datagram, 0);
  assert.equal(type, Chunk.RHELLO);
  const rhello = readRHello(payload, 0, payload.length)!;
  assert.ok(rhello.tag.equals(t), 'tag echoed');
  assert.equal(rhello.cookie.length, 64);
  assert.ok(rhello.certificate.equals(handshake.certificate));
  assert.equal(rhello.certificate.length, 77);
  return Buffer.from(rhello.cookie);
}

async function keying(handshake: RtmfpHandshake, initiator: TestInitiator, cookie: Buffer, host = HOST): Promise<StartupDecision | null> {
  return handshake.receive(initiator.iikeying(cookie), host, PORT);
}

void describe('RtmfpHandshake: full handshake', () => {
  for (const groupId of [2, 5, 14] as DhGroupId[]) {
    void it(`DH group ${groupId}: both sides derive the same keys and talk`, async () => {
      const handshake = newHandshake();
      const initiator = new TestInitiator(groupId);
      const d = await keying(handshake, initiator, await getCookie(handshake));
      assert.equal(d?.kind, 'keying');
      const decision = d;
      assert.equal(decision.initiatorSsid, initiator.ssid);
      assert.equal(decision.groupId, groupId);
      assert.ok(decision.peerId.equals(peerIdOf(initiator.certificate)!));
      assert.ok(decision.clientCertificate.equals(initiator.certificate));

      const datagram = decision.respond(0x0badcafe);
      const [type, payload] = startupChunk(datagram, initiator.ssid);
      assert.equal(type, Chunk.RIKEYING);
      const rikeying = readRIKeying(payload, 0, payload.length)!;
      assert.equal(rikeying.responderSsid, 0x0badcafe);
      assert.ok(rikeying.skrc.subarray(0, 7).equals(SKRC_PREFIX));
      const server = readSkrc(rikeying.skrc)!;
      assert.equal(server.groupId, groupId);
      assert.equal(server.publicKey.length, initiator.dh.getPrime().length, 'key padded to the prime size');

      // The initiator's side, with Node's DH and the module's derivation only.
      const secret = initiator.dh.computeSecret(server.publicKey);
      let i = 0;
      while (i < secret.length - 1 && secret[i] === 0) {
        i++;
      }
      const keys = deriveSessionKeys(secret.subarray(i), initiator.skic, rikeying.skrc);
      assert.ok(keys.initiatorKey.equals(decision.decryptKey));
      assert.ok(keys.responderKey.equals(decision.encryptKey));

      const buf = Buffer.alloc(64);
      const end = writePacketHeader(buf, RTMFP_CONTENT_OFFSET, 0x89, 1, -1);
      buf.set([0x01, 0x00, 0x00], end);
      const n = kernels.encryptPacket(kernels.createPacketKey(keys.initiatorKey), 0x0badcafe, buf, end + 3, buf, 0);
      assert.equal(readSessionId(buf, 0), 0x0badcafe);
      const plain = open(kernels.createPacketKey(decision.decryptKey), buf.subarray(0, n));
      assert.deepEqual(chunksOf(plain!).chunks.map(([t]) => t), [Chunk.PING]);
    });
  }

  void it('answers a repeated IIKeying with the identical RIKeying', async () => {
    const handshake = newHandshake();
    const initiator = new TestInitiator(2);
    const cookie = await getCookie(handshake);
    const first = (await keying(handshake, initiator, cookie)) as KeyingDecision;
    assert.equal((await keying(handshake, initiator, cookie)), null, 'not answered yet: dropped');
    assert.equal(handshake.stats.keyingBusy, 1);
    const answer = first.respond(42);
    assert.equal(first.respond(43), answer, 'respond is idempotent');
    for (let i = 0; i < 3; i++) {
      const again = await keying(handshake, initiator, cookie);
      assert.equal(again?.kind, 'rikeying');
      assert.ok(again.datagram.equals(answer));
    }
    assert.equal(handshake.stats.repeatedKeying, 3);
    assert.equal(handshake.stats.keyingDecisions, 1);
    const other = new TestInitiator(2);
    assert.equal(await keying(handshake, other, cookie), null, 'same cookie, another initiator');
    assert.equal(handshake.stats.cookieReused, 1);
  });
});

void describe('RtmfpHandshake: cookies', () => {
  void it('StatelessCookies round trip, expiry, forgery and address binding', () => {
    let now = 1_700_000_000_000;
    const cookies = new StatelessCookies(randomBytes(32), 95_000, () => now);
    const cookie = cookies.create('192.0.2.1:1000');
    assert.equal(cookie.length, 64);
    assert.equal(cookies.check(cookie, '192.0.2.1:1000'), CookieCheck.VALID);
    assert.equal(cookies.check(cookie, '192.0.2.1:1001'), CookieCheck.OTHER_ADDRESS);
    assert.equal(cookies.check(cookie, '192.0.2.2:1000'), CookieCheck.OTHER_ADDRESS);
    for (const at of [0, 10, 30, 63]) {
      const forged = Buffer.from(cookie);
      forged[at] ^= 1;
      assert.equal(cookies.check(forged, '192.0.2.1:1000'), CookieCheck.FORGED, `byte ${at}`);
    }
    assert.equal(cookies.check(randomBytes(64), '192.0.2.1:1000'), CookieCheck.FORGED);
    assert.equal(cookies.check(cookie.subarray(0, 63), '192.0.2.1:1000'), CookieCheck.FORGED);
    assert.equal(new StatelessCookies(randomBytes(32), 95_000, () => now).check(cookie, '192.0.2.1:1000'), CookieCheck.FORGED, 'other secret');
    now += 95_000;
    assert.equal(cookies.check(cookie, '192.0.2.1:1000'), CookieCheck.VALID);
    now += 1;
    assert.equal(cookies.check(cookie, '192.0.2.1:1000'), CookieCheck.EXPIRED);
    assert.notDeepEqual(cookies.create('192.0.2.1:1000'), cookies.create('192.0.2.1:1000'));
  });

  void it('drops and counts IIKeying with expired, forged or foreign cookies, without DH work', async () => {
    let now = 1_700_000_000_000;
    const requests: KeyRequest[] = [];
    const handshake = newHandshake({
      now: () => now,
      computeKeys: (request) => {
        requests.push(request);
        return Promise.resolve(computeKeysSync(request));
      },
    });
    const initiator = new TestInitiator(2);
    const cookie = await getCookie(handshake);
    assert.equal(await keying(handshake, initiator, cookie, '198.51.100.21'), null);
    assert.equal(handshake.stats.cookieOtherAddress, 1);
    const forged = Buffer.from(cookie);
    forged[40] ^= 0x80;
    assert.equal(await keying(handshake, initiator, forged), null);
    assert.equal(await keying(handshake, initiator, randomBytes(64)), null);
    assert.equal(handshake.stats.cookieForged, 2);
    now += 96_000;
    assert.equal(await keying(handshake, initiator, cookie), null);
    assert.equal(handshake.stats.cookieExpired, 1);
    assert.equal(requests.length, 0, 'no DH for any of them');
    assert.equal((await keying(handshake, initiator, await getCookie(handshake)))?.kind, 'keying');
    assert.equal(requests.length, 1);
  });

  void it('keeps no state per IHello, and a bounded answer cache', async () => {
    const handshake = newHandshake({ maxAnswers: 3 });
    for (let i = 0; i < 200; i++) {
      await getCookie(handshake, '203.0.113.9', 1000 + i);
    }
    assert.equal(handshake.answersKept, 0);
    for (let i = 0; i < 6; i++) {
      const d = (await keying(handshake, new TestInitiator(2), await getCookie(handshake))) as KeyingDecision;
      d.respond(i + 1);
    }
    assert.ok(handshake.answersKept <= 3);
  });
});

void describe('RtmfpHandshake: flood control and key validation', () => {
  void it('caps the DH work in flight and counts what it drops', async () => {
    const pending: (() => void)[] = [];
    const handshake = newHandshake({
      maxKeyingInFlight: 16,
      maxKeyingPerAddress: 0,
      computeKeys: (request) =>
        new Promise<KeyResult | null>((resolve) => {
          pending.push(() => resolve(computeKeysSync(request)));
        }),
    });
    const cookies = await Promise.all(Array.from({ length: 20 }, () => getCookie(handshake)));
    const decisions = cookies.map((cookie) => keying(handshake, new TestInitiator(2, randomBytes(4).readUInt32BE(0)), cookie));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(handshake.keyingInFlight, 16);
    assert.equal(pending.length, 16);
    assert.equal(handshake.stats.overloaded, 4);
    for (const finish of pending) {
      finish();
    }
    const results = await Promise.all(decisions);
    assert.equal(results.filter((d) => d?.kind === 'keying').length, 16);
    assert.equal(results.filter((d) => d === null).length, 4);
    assert.equal(handshake.keyingInFlight, 0);
  });

  void it('lets one address hold only its share of the DH slots, so other clients still get theirs', async () => {
    const pending: (() => void)[] = [];
    const handshake = newHandshake({
      maxKeyingInFlight: 16,
      maxKeyingPerAddress: 4,
      computeKeys: (request) =>
        new Promise<KeyResult | null>((resolve) => {
          pending.push(() => resolve(computeKeysSync(request)));
        }),
    });
    const flooder = '203.0.113.9';
    const cookies = await Promise.all(Array.from({ length: 10 }, () => getCookie(handshake, flooder)));
    const flood = cookies.map((cookie) => keying(handshake, new TestInitiator(2, randomBytes(4).readUInt32BE(0)), cookie, flooder));
    const other = keying(handshake, new TestInitiator(2, randomBytes(4).readUInt32BE(0)), await getCookie(handshake), HOST);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(handshake.keyingInFlight, 5, 'four for the flooding address, one for the other client');
    assert.equal(handshake.stats.addressBusy, 6);
    pending.forEach((finish) => finish());
    assert.equal((await other)?.kind, 'keying');
    assert.equal((await Promise.all(flood)).filter((d) => d?.kind === 'keying').length, 4);
    // Loopback is this machine: never limited.
    const local = newHandshake({ maxKeyingPerAddress: 1 });
    const localCookies = await Promise.all([getCookie(local, '127.0.0.1'), getCookie(local, '127.0.0.1')]);
    const both = await Promise.all(localCookies.map((c) => keying(local, new TestInitiator(2, randomBytes(4).readUInt32BE(0)), c, '127.0.0.1')));
    assert.deepEqual(both.map((d) => d?.kind), ['keying', 'keying']);
  });

  void it('rejects bad client keys, unknown groups and missing keys', async () => {
    const handshake = newHandshake();
    const weak = new TestInitiator(2);
    const bad = Object.assign(Object.create(TestInitiator.prototype) as TestInitiator, weak, {
      certificate: buildClientCertificate([{ groupId: 2, publicKey: Buffer.from([1]) }]),
    });
    assert.equal(await keying(handshake, bad, await getCookie(handshake)), null);
    assert.equal(handshake.stats.badPublicKey, 1);
    const group16 = Object.assign(Object.create(TestInitiator.prototype) as TestInitiator, weak, { skic: buildSkic(16) });
    assert.equal(await keying(handshake, group16, await getCookie(handshake)), null);
    assert.equal(handshake.stats.unsupportedGroup, 1);
    const noKey = Object.assign(Object.create(TestInitiator.prototype) as TestInitiator, weak, { skic: buildSkic(5) });
    assert.equal(await keying(handshake, noKey, await getCookie(handshake)), null);
    assert.equal(handshake.stats.badKeying, 1);
    const computeFails = newHandshake({ computeKeys: () => Promise.reject(new Error('pool gone')) });
    assert.equal(await keying(computeFails, weak, await getCookie(computeFails)), null);
    assert.equal(computeFails.stats.errors, 1);
  });

  void it('validates public keys as RFC 7425 §4.6.2 asks', () => {
    const p = getDiffieHellman('modp2').getPrime();
    const pBig = BigInt(`0x${p.toString('hex')}`);
    const bytes = (n: bigint): Buffer => {
      const digits = n.toString(16);
      return padLeft(Buffer.from(digits.length % 2 === 1 ? `0${digits}` : digits, 'hex'), 128);
    };
    assert.equal(isValidPublicKey(2, bytes((1n << 24n) - 1n)), false, 'below 2^24');
    assert.equal(isValidPublicKey(2, bytes(pBig - (1n << 24n) + 1n)), false, 'above p - 2^24');
    assert.equal(isValidPublicKey(2, bytes(1n << 100n)), false, 'too few one bits');
    assert.equal(isValidPublicKey(2, bytes((1n << 200n) - 1n)), false, 'too few zero bits');
    assert.equal(isValidPublicKey(2, Buffer.alloc(129, 0x55)), false, 'longer than the prime');
    assert.equal(isValidPublicKey(2, bytes(pBig - (1n << 24n))), true);
    assert.equal(isValidPublicKey(2, new TestInitiator(2).publicKey), true);
  });

  void it('strips leading zeros of the shared secret (1 session in 256)', () => {
    const serverPrivate = randomBytes(28);
    const client = createDiffieHellman(getDiffieHellman('modp2').getPrime(), 2);
    let secret: Buffer;
    let clientPublic: Buffer;
    do {
      client.setPrivateKey(randomBytes(28));
      clientPublic = client.generateKeys();
      secret = dhExchange(2, clientPublic, serverPrivate)!.secret;
    } while (secret.length === 128);
    const padded = client.computeSecret(dhExchange(2, clientPublic, serverPrivate)!.publicKey);
    assert.equal(padded.length, 128);
    assert.equal(padded[0], 0);
    assert.ok(secret.equals(padded.subarray(128 - secret.length)));
    assert.ok(secret[0] !== 0);
  });
});

void describe('RtmfpHandshake: decisions for the session layer', () => {
  void it('URL IHellos go to the caller with urlDecisions, and redirect() answers them', async () => {
    const handshake = newHandshake({ urlDecisions: true });
    const t = tag();
    const d = await handshake.receive(ihelloDatagram('rtmfp://example.net/app?x=1', t), HOST, PORT);
    assert.equal(d?.kind, 'url');
    assert.equal(d.url, 'rtmfp://example.net/app?x=1');
    assert.ok(d.tag.equals(t));
    const targets = [
      { host: '192.0.2.7', port: 1936, origin: AddressOrigin.RELAY },
      { host: '2001:db8::7', port: 1937, origin: AddressOrigin.RELAY },
    ];
    const [type, payload] = startupChunk(handshake.redirect(d.tag, targets), 0);
    assert.equal(type, Chunk.REDIRECT);
    const redirect = readRedirect(payload, 0, payload.length)!;
    assert.ok(redirect.tag.equals(t));
    assert.deepEqual(redirect.addresses, targets);
    const [rtype] = startupChunk(handshake.rhello(d.tag, HOST, PORT), 0);
    assert.equal(rtype, Chunk.RHELLO);
  });

  void it('peer-ID IHellos become rendezvous decisions; our own fingerprint gets an RHello', async () => {
    const handshake = newHandshake();
    const peerId = randomBytes(32);
    const t = tag();
    const epd = epdForPeerId(peerId);
    const d = await handshake.receive(startupDatagram(0, (buf, o) => writeIHello(buf, o, epd, t)), HOST, PORT);
    assert.equal(d?.kind, 'peer');
    assert.ok(d.peerId.equals(peerId) && d.tag.equals(t) && d.epd.equals(epd));
    assert.ok(parseEpd(d.epd)?.peerId?.equals(peerId));
    const self = await handshake.receive(startupDatagram(0, (buf, o) => writeIHello(buf, o, epdForPeerId(handshake.fingerprint), t)), HOST, PORT);
    assert.equal(self?.kind, 'rhello');
  });

  void it('drops non-startup packets, session IDs other than 0 and oversized tags', async () => {
    const handshake = newHandshake();
    const notStartup = startupDatagram(0, (buf) => {
      buf[RTMFP_CONTENT_OFFSET] = Mode.INITIATOR;
      return RTMFP_CONTENT_OFFSET + 1;
    });
    assert.equal(await handshake.receive(notStartup, HOST, PORT), null);
    assert.equal(await handshake.receive(ihelloDatagram('rtmfp://x/', tag()).fill(1, 0, 4), HOST, PORT), null);
    assert.equal(handshake.stats.badDatagram, 2);
    assert.equal(await handshake.receive(ihelloDatagram('rtmfp://x/', randomBytes(65)), HOST, PORT), null);
    assert.equal(handshake.stats.badChunk, 1);
    assert.equal(await handshake.receive(startupDatagram(0, (buf, o) => o + buf.write('\x01\x00\x00', o, 'latin1')), HOST, PORT), null);
    assert.equal(handshake.stats.unknownChunk, 1);
  });
});
