/**
 * The recorded vectors of ../shared/vectors/rtmfp, byte-exact: the Flash Player 11.7 session
 * (key derivation from the server's known exponent, every packet decrypted, checksummed,
 * re-encrypted and parsed), the librtmfp session, and the Stratus IHello of rtmfp.md §5.1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import { computeKeysSync } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import { certificateDhKey, peerIdOf } from '../../../src/protocols/rtmfp/crypto/certificate.js';
import { dhExchange } from '../../../src/protocols/rtmfp/crypto/dhGroups.js';
import { readSkic, SKRC_PREFIX } from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { deriveSessionKeys } from '../../../src/protocols/rtmfp/crypto/computeKeys.js';
import { parseEpd, parseRtmfpUrl } from '../../../src/protocols/rtmfp/epd.js';
import { readIHello, readIIKeying, readRHello, readRIKeying, writeIHello } from '../../../src/protocols/rtmfp/handshakeChunks.js';
import { Chunk, Mode, readSessionId } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import {
  AckChunk, FlowOptions, UserDataChunk, readFlowOptions, readRangeAck, readUserData,
} from '../../../src/protocols/rtmfp/sessionChunks.js';
import {
  captureFile, chunksOf, defaultKey, flashSession, hex, kernels, librtmfpSession, open, startupDatagram,
} from './rtmfpTestKit.js';

const flash = flashSession();
const keys = {
  default: defaultKey,
  serverDecrypt: kernels.createPacketKey(hex(flash.serverDecryptKey)),
  serverEncrypt: kernels.createPacketKey(hex(flash.serverEncryptKey)),
};

void describe('Flash Player 11.7 capture', () => {
  void it('derives the SKRC key, secret, peer ID and session keys from the known exponent', () => {
    const certificate = hex(flash.clientCertificate);
    const skic = hex(flash.skic);
    const component = readSkic(skic);
    assert.equal(component?.groupId, 2);
    assert.equal(component.hmacFlags, 2);
    assert.equal(component.hmacLength, 10);
    assert.equal(component.sseqFlags, 2);
    const clientKey = certificateDhKey(certificate, 2);
    assert.equal(clientKey?.length, 128);
    const exchange = dhExchange(2, clientKey, hex(flash.serverDhPrivateKey));
    assert.ok(exchange !== null);
    assert.equal(exchange.secret.toString('hex'), flash.sharedSecret);
    const result = computeKeysSync({ groupId: 2, clientPublicKey: clientKey, skic, privateKey: hex(flash.serverDhPrivateKey) });
    assert.ok(result !== null);
    assert.equal(result.skrc.toString('hex'), flash.skrc, 'SKRC byte-exact (same layout as the capture)');
    assert.equal(result.decryptKey.toString('hex'), flash.serverDecryptKey);
    assert.equal(result.encryptKey.toString('hex'), flash.serverEncryptKey);
    assert.equal(peerIdOf(certificate)?.toString('hex'), flash.clientPeerId);
    const derived = deriveSessionKeys(exchange.secret, skic, hex(flash.skrc));
    assert.equal(derived.initiatorKey.toString('hex'), flash.serverDecryptKey);
  });

  for (const packet of flash.packets) {
    void it(`${packet.file}: SSID, decryption, checksum and re-encryption are byte-exact`, () => {
      const wire = captureFile(packet.file);
      assert.equal(wire.toString('hex'), packet.wire);
      assert.equal(readSessionId(wire, 0), packet.ssid);
      const plain = open(keys[packet.key], wire);
      assert.ok(plain !== null, 'checksum valid');
      assert.equal(plain.toString('hex'), packet.plaintext);
      if (packet.key !== 'default') {
        const other = packet.key === 'serverDecrypt' ? keys.serverEncrypt : keys.serverDecrypt;
        assert.equal(open(other, wire), null, 'the other direction key fails the checksum');
      }
      // Re-encrypt from the content (flags onwards): the kernel redoes padding, checksum, AES, SSID.
      const content = plain.subarray(2);
      const padding = content.length - content.findLastIndex((b) => b !== 0xff) - 1;
      const buf = Buffer.alloc(wire.length + 16);
      content.copy(buf, RTMFP_CONTENT_OFFSET, 0, content.length - padding);
      const n = kernels.encryptPacket(keys[packet.key], packet.ssid, buf, RTMFP_CONTENT_OFFSET + content.length - padding, buf, 0);
      assert.equal(buf.subarray(0, n).toString('hex'), packet.wire);
    });
  }

  void it('parses every chunk of every packet', () => {
    const parsed = new Map<string, [number, Buffer][]>();
    for (const packet of flash.packets) {
      const { header, chunks, malformed } = chunksOf(open(keys[packet.key], captureFile(packet.file))!);
      assert.equal(malformed, false, packet.file);
      assert.ok(chunks.length > 0, packet.file);
      const expectedMode = packet.key === 'default' ? Mode.STARTUP : packet.direction === 'client->server' ? Mode.INITIATOR : Mode.RESPONDER;
      assert.equal(header.mode, expectedMode, packet.file);
      parsed.set(packet.name, chunks);
    }
    const ihello = parsed.get('IHello')!;
    assert.equal(ihello[0][0], Chunk.IHELLO);
    const hello = readIHello(ihello[0][1], 0, ihello[0][1].length)!;
    assert.equal(parseEpd(hello.epd)?.url, 'rtmfp://192.168.137.183/');
    assert.equal(hello.tag.toString('hex'), '2175b73f525fa0dd1f75ae339a706cc3');
    assert.equal(parseRtmfpUrl('rtmfp://192.168.137.183/').path, '');

    const rhelloChunk = parsed.get('RHello')![0][1];
    const rhello = readRHello(rhelloChunk, 0, rhelloChunk.length)!;
    assert.ok(rhello.tag.equals(hello.tag));
    assert.equal(rhello.cookie.length, 64);
    assert.equal(rhello.certificate.length, 77);

    const ikChunk = parsed.get('IIKeying')![0][1];
    const ik = readIIKeying(ikChunk, 0, ikChunk.length)!;
    assert.equal(ik.initiatorSsid, flash.initiatorSessionId);
    assert.ok(ik.cookie.equals(rhello.cookie));
    assert.equal(ik.certificate.toString('hex'), flash.clientCertificate);
    assert.equal(ik.skic.toString('hex'), flash.skic);
    assert.equal(ik.signature.toString(), 'X');

    const rkChunk = parsed.get('RIKeying')![0][1];
    const rk = readRIKeying(rkChunk, 0, rkChunk.length)!;
    assert.equal(rk.responderSsid, flash.responderSessionId);
    assert.equal(rk.skrc.toString('hex'), flash.skrc);
    assert.ok(rk.skrc.subarray(0, 7).equals(SKRC_PREFIX));

    const userData = new UserDataChunk();
    const options = new FlowOptions();
    const [connect] = parsed.get('5')!;
    assert.equal(connect[0], Chunk.USER_DATA);
    assert.ok(readUserData(connect[1], 0, connect[1].length, userData));
    assert.deepEqual([userData.flowId, userData.sequence, userData.fsnOffset, userData.forwardSequence], [2, 1, 1, 0]);
    assert.ok(readFlowOptions(connect[1], userData.optionsStart, userData.optionsEnd, options));
    assert.equal(connect[1].toString('latin1', options.metadataStart, options.metadataEnd), 'TC\x04\x00');
    assert.equal(connect[1][userData.dataStart], 0x14);

    const [ack, result] = parsed.get('6')!;
    const ackChunk = new AckChunk();
    assert.equal(ack[0], Chunk.RANGE_ACK);
    assert.ok(readRangeAck(ack[1], 0, ack[1].length, ackChunk));
    assert.deepEqual([ackChunk.flowId, ackChunk.bufferBlocks, ackChunk.cumulativeAck, ackChunk.rangeCount], [2, 127, 1, 0]);
    assert.ok(readUserData(result[1], 0, result[1].length, userData));
    assert.ok(readFlowOptions(result[1], userData.optionsStart, userData.optionsEnd, options));
    assert.equal(options.returnFlowId, 2);
    assert.equal(userData.flowId, 1);

    const [clientAck] = parsed.get('7')!;
    assert.ok(readRangeAck(clientAck[1], 0, clientAck[1].length, ackChunk));
    assert.deepEqual([ackChunk.flowId, ackChunk.bufferBlocks, ackChunk.cumulativeAck], [1, 16383, 1]);

    const [peerInfo] = parsed.get('8')!;
    assert.ok(readUserData(peerInfo[1], 0, peerInfo[1].length, userData));
    assert.deepEqual([userData.flowId, userData.sequence, userData.optionsStart === userData.optionsEnd], [2, 2, true]);
    assert.equal(peerInfo[1][userData.dataStart], 0x11);

    const [, keepalive] = parsed.get('9')!;
    assert.ok(readUserData(keepalive[1], 0, keepalive[1].length, userData));
    assert.equal(userData.dataEnd - userData.dataStart, 25, 'no OPT flag: the option-looking bytes are data');

    assert.deepEqual(parsed.get('11')!.map(([type, payload]) => [type, payload.length]), [[Chunk.SESSION_CLOSE_ACK, 0]]);
  });
});

void describe('librtmfp session vector', () => {
  const v = librtmfpSession();

  void it('peer ID, keys and the first datagram', () => {
    const certificate = hex(v.clientCertificate);
    assert.equal(peerIdOf(certificate)?.toString('hex'), v.clientPeerId);
    const result = computeKeysSync({
      groupId: 2, clientPublicKey: certificateDhKey(certificate, 2)!, skic: hex(v.skic), privateKey: hex(v.serverDhPrivateKey),
    });
    assert.ok(result !== null);
    assert.equal(result.skrc.toString('hex'), v.skrc);
    assert.equal(result.decryptKey.toString('hex'), v.serverDecryptKey);
    assert.equal(result.encryptKey.toString('hex'), v.serverEncryptKey);

    const wire = hex(v.firstClientDatagram.wire);
    assert.equal(readSessionId(wire, 0), v.firstClientDatagram.ssid);
    const plain = open(kernels.createPacketKey(result.decryptKey), wire);
    assert.equal(plain?.toString('hex'), v.firstClientDatagram.plaintext);
    assert.equal(open(kernels.createPacketKey(result.encryptKey), wire), null);
    const { header, chunks } = chunksOf(plain);
    assert.deepEqual([header.flags, header.timestamp, header.timestampEcho], [0x8d, 0xe422, 0x0094]);
    const userData = new UserDataChunk();
    assert.ok(readUserData(chunks[0][1], 0, chunks[0][1].length, userData));
    assert.deepEqual([userData.flowId, userData.sequence, userData.fsnOffset], [2, 1, 1]);
  });

  void it('decrypts in place, the way a session decrypts a received datagram', () => {
    const wire = hex(v.firstClientDatagram.wire);
    const n = kernels.decryptPacket(kernels.createPacketKey(hex(v.serverDecryptKey)), wire, 0, wire.length, wire, 0);
    assert.equal(n, wire.length - 4);
    assert.equal(wire.subarray(0, n).toString('hex'), v.firstClientDatagram.plaintext);
  });
});

void describe('Stratus IHello (rtmfp.md §5.1)', () => {
  void it('encodes byte-exact from its EPD, tag and timestamp', () => {
    const url = 'rtmfp://stratus.adobe.com/956d0095bc941624b20db77f-763ac4f46289/';
    const epd = Buffer.concat([Buffer.from([0x41, 0x0a]), Buffer.from(url)]);
    const tag = hex('7D1C42FB551BB4E78F34B6C4A011CCBD');
    assert.equal(parseEpd(epd)?.url, url);
    const datagram = startupDatagram(0, (buf, o) => writeIHello(buf, o, epd, tag), 0x8260);
    const expected = hex(`95BD4A12 D97AE8AF4CC7A2BD26397719 D74231A231BB057C0DE4032A4EFAC39B 11D8B8983FD6AAB7A198F25F75EDE241
      E5200B30FC5D463305F58B93A9BE902D 8F07728720B15E15089583A9C1C99A6A EC9304FF2B66A5256DE70648D438016B 8AC6678B`);
    assert.equal(datagram.toString('hex'), expected.toString('hex'));
    const plain = open(defaultKey, datagram)!;
    assert.equal(plain.readUInt16BE(0), 0x0a4d, 'checksum as documented');
  });
});
