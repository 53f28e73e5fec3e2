/**
 * Hostile input (style rule 14): random bytes, every truncation and byte flips of valid chunks.
 * No parser may throw; they return false / null / -1 and the caller counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RtmfpHandshake } from '../../../src/protocols/rtmfp/RtmfpHandshake.js';
import { readAddress } from '../../../src/protocols/rtmfp/address.js';
import { certificateDhKey, peerIdOf } from '../../../src/protocols/rtmfp/crypto/certificate.js';
import { isValidPublicKey } from '../../../src/protocols/rtmfp/crypto/dhGroups.js';
import { readSkic, readSkrc } from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { parseEpd, parseRtmfpUrl } from '../../../src/protocols/rtmfp/epd.js';
import * as hs from '../../../src/protocols/rtmfp/handshakeChunks.js';
import { ChunkIterator, PacketHeader, readPacketHeader, readSessionId } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import * as sc from '../../../src/protocols/rtmfp/sessionChunks.js';
import { WireReader } from '../../../src/protocols/rtmfp/WireReader.js';
import { captureFile, chunksOf, defaultKey, flashSession, hex, kernels, open, startupDatagram } from './rtmfpTestKit.js';

const header = new PacketHeader();
const chunks = new ChunkIterator();
const userData = new sc.UserDataChunk();
const flow = new sc.FlowOptions();
const ack = new sc.AckChunk();
const exception = new sc.FlowException();
const reader = new WireReader();

/** Runs every parser on `buf[start, end)`; only checks that none throws or runs away. */
function parseEverything(buf: Buffer): void {
  const end = buf.length;
  readSessionId(buf, 0);
  if (readPacketHeader(buf, 0, end, header)) {
    for (chunks.reset(buf, header.chunksStart, end); chunks.next(); ) {
      assert.ok(chunks.payloadEnd <= end);
    }
  }
  hs.readIHello(buf, 0, end);
  hs.readForwardedIHello(buf, 0, end);
  hs.readRHello(buf, 0, end);
  hs.readRedirect(buf, 0, end);
  hs.readCookieChange(buf, 0, end);
  hs.readIIKeying(buf, 0, end);
  hs.readRIKeying(buf, 0, end);
  userData.clear();
  if (sc.readUserData(buf, 0, end, userData)) {
    assert.ok(userData.dataStart <= userData.dataEnd && userData.dataEnd === end);
    sc.readFlowOptions(buf, userData.optionsStart, userData.optionsEnd, flow);
  }
  sc.readNextUserData(buf, 0, end, userData);
  sc.readRangeAck(buf, 0, end, ack);
  sc.readBitmapAck(buf, 0, end, ack);
  assert.ok(ack.rangeCount <= sc.MAX_ACK_RANGES);
  sc.readBufferProbe(buf, 0, end, { pos: 0 });
  sc.readFlowException(buf, 0, end, exception);
  parseEpd(buf);
  parseRtmfpUrl(buf.toString('latin1'));
  readAddress(reader.reset(buf, 0, end));
  readSkic(buf);
  readSkrc(buf);
  certificateDhKey(buf, 2);
  peerIdOf(buf);
  isValidPublicKey(2, buf);
}

/** Chunk payloads and plaintexts from the Flash capture, as seeds for truncation and mutation. */
const seeds = (): Buffer[] => {
  const session = flashSession();
  const out: Buffer[] = [];
  for (const packet of session.packets) {
    const key = packet.key === 'default' ? defaultKey : kernels.createPacketKey(hex(packet.key === 'serverDecrypt' ? session.serverDecryptKey : session.serverEncryptKey));
    const plain = open(key, captureFile(packet.file))!;
    out.push(plain.subarray(2));
    for (const [, payload] of chunksOf(plain).chunks) {
      out.push(payload);
    }
  }
  return out;
};

void describe('RTMFP parsers on hostile input', () => {
  void it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => parseEverything(Buffer.from(bytes))), { numRuns: 5000 });
  });

  void it('every truncation of every captured chunk and packet never throws', () => {
    for (const seed of seeds()) {
      for (let n = 0; n <= seed.length; n++) {
        parseEverything(Buffer.from(seed.subarray(0, n)));
      }
    }
  });

  void it('byte flips of captured chunks never throw', () => {
    const all = seeds();
    fc.assert(
      fc.property(fc.nat(all.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (which, flips) => {
        const buf = Buffer.from(all[which]);
        for (const [at, value] of flips) {
          if (buf.length > 0) {
            buf[at % buf.length] = value;
          }
        }
        parseEverything(buf);
      }),
      { numRuns: 3000 },
    );
  });

  void it('the handshake drops garbage datagrams and garbage startup packets without throwing', async () => {
    const handshake = new RtmfpHandshake({ kernels });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, sealed) => {
        const datagram = sealed
          ? startupDatagram(0, (buf, o) => {
              buf.set(bytes, o);
              return o + bytes.length;
            })
          : Buffer.from(bytes);
        const decision = await handshake.receive(datagram, '203.0.113.5', 4000);
        if (decision !== null) {
          // Random content can be a well-formed IHello by chance; it may only be answered.
          assert.ok(decision.kind === 'rhello' || decision.kind === 'peer');
        }
      }),
      { numRuns: 2000 },
    );
    assert.ok(handshake.stats.dropped > 1500);
  });
});
