/**
 * Every chunk writer against its reader, the header flags, addresses, EPDs and option lists,
 * plus the wire samples of rtmfp.md (ack `05 01 01`, `21 0F <id>`, SKRC prefix).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import {
  AddressOrigin, formatAddress, ipBytes, parseHostPort, readAddress, writeAddress,
} from '../../../src/protocols/rtmfp/address.js';
import type { RtmfpAddress } from '../../../src/protocols/rtmfp/address.js';
import {
  buildClientCertificate, buildServerCertificate, certificateDhKey, certificateSignedEnd, SERVER_CERTIFICATE_SIZE,
} from '../../../src/protocols/rtmfp/crypto/certificate.js';
import { buildSkrc, readSkrc, SKRC_PREFIX } from '../../../src/protocols/rtmfp/crypto/keyComponents.js';
import { epdForPeerId, epdForUrl, parseEpd, parseRtmfpUrl } from '../../../src/protocols/rtmfp/epd.js';
import * as hs from '../../../src/protocols/rtmfp/handshakeChunks.js';
import { encodeOptions, OptionReader, OptionsEnd } from '../../../src/protocols/rtmfp/options.js';
import {
  ChunkIterator, HeaderFlag, Mode, PacketHeader, readPacketHeader, writePacketHeader,
} from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import * as sc from '../../../src/protocols/rtmfp/sessionChunks.js';
import { WireReader } from '../../../src/protocols/rtmfp/WireReader.js';

/** Writes one chunk with `write`, then returns its type and payload through the iterator. */
const roundTrip = (write: (buf: Buffer, o: number) => number): [number, Buffer] => {
  const buf = Buffer.alloc(2000);
  const end = write(buf, 0);
  const it = new ChunkIterator().reset(buf, 0, end);
  assert.ok(it.next());
  assert.equal(it.payloadEnd, end);
  return [it.type, buf.subarray(it.start, it.payloadEnd)];
};

const addresses: RtmfpAddress[] = [
  { host: '192.0.2.10', port: 1935, origin: AddressOrigin.OBSERVED },
  { host: '2001:db8::1', port: 443, origin: AddressOrigin.REPORTED },
  { host: '::', port: 1, origin: AddressOrigin.UNKNOWN },
  { host: 'fe80::1:2:3:4', port: 65535, origin: AddressOrigin.RELAY },
];

void describe('packet header', () => {
  void it('honours TS and TSE exactly', () => {
    const h = new PacketHeader();
    for (const [ts, echo] of [[-1, -1], [0x1234, -1], [-1, 0x4567], [0, 0xffff]]) {
      const buf = Buffer.alloc(8);
      const end = writePacketHeader(buf, 0, HeaderFlag.TIME_CRITICAL | Mode.INITIATOR, ts, echo);
      assert.ok(readPacketHeader(buf, 0, end, h));
      assert.deepEqual([h.mode, h.timestamp, h.timestampEcho, h.chunksStart], [Mode.INITIATOR, ts, echo, end]);
      assert.equal(h.flags & HeaderFlag.TIME_CRITICAL, HeaderFlag.TIME_CRITICAL);
    }
    // rtmfp-cpp's 0x01 / 0x81: no timestamp at all, chunk right after the flags.
    assert.ok(readPacketHeader(Buffer.from([0x81, 0x01, 0x00, 0x00]), 0, 4, h));
    assert.deepEqual([h.timestamp, h.chunksStart], [-1, 1]);
    assert.equal(readPacketHeader(Buffer.from([0x08]), 0, 1, h), false, 'TS without the bytes');
    assert.equal(readPacketHeader(Buffer.from([0x0c, 0, 0, 0]), 0, 4, h), false, 'mode 0');
  });

  void it('chunk iteration stops at padding and flags overruns', () => {
    const it = new ChunkIterator();
    it.reset(Buffer.from('4c0000010001aaffffff', 'hex'), 0, 10);
    assert.ok(it.next());
    assert.deepEqual([it.type, it.length], [0x4c, 0]);
    assert.ok(it.next());
    assert.deepEqual([it.type, it.length], [0x01, 1]);
    assert.equal(it.next(), false);
    assert.equal(it.malformed, false);
    it.reset(Buffer.from('100005aa', 'hex'), 0, 4);
    assert.equal(it.next(), false);
    assert.equal(it.malformed, true);
    it.reset(Buffer.from('10ff', 'hex'), 0, 2);
    assert.equal(it.next(), false);
    assert.equal(it.malformed, true);
  });
});

void describe('handshake chunks', () => {
  const tag = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const cookie = Buffer.alloc(64, 7);

  void it('IHello, RHello, Cookie Change', () => {
    const epd = epdForUrl('rtmfp://example.net/app');
    let [type, p] = roundTrip((b, o) => hs.writeIHello(b, o, epd, tag));
    assert.equal(type, 0x30);
    const hello = hs.readIHello(p, 0, p.length)!;
    assert.ok(hello.epd.equals(epd) && hello.tag.equals(tag));
    const cert = buildServerCertificate();
    [type, p] = roundTrip((b, o) => hs.writeRHello(b, o, tag, cookie, cert));
    assert.equal(type, 0x70);
    const rhello = hs.readRHello(p, 0, p.length)!;
    assert.ok(rhello.tag.equals(tag) && rhello.cookie.equals(cookie) && rhello.certificate.equals(cert));
    [type, p] = roundTrip((b, o) => hs.writeCookieChange(b, o, cookie, Buffer.alloc(64, 9)));
    assert.equal(type, 0x79);
    const change = hs.readCookieChange(p, 0, p.length)!;
    assert.ok(change.oldCookie.equals(cookie) && change.newCookie.equals(Buffer.alloc(64, 9)));
  });

  void it('Redirect and forwarded IHello carry IPv4 and IPv6 addresses', () => {
    let [type, p] = roundTrip((b, o) => hs.writeRedirect(b, o, 2000, tag, addresses));
    assert.equal(type, 0x71);
    assert.deepEqual(hs.readRedirect(p, 0, p.length)?.addresses, addresses);
    [, p] = roundTrip((b, o) => hs.writeRedirect(b, o, 2000, tag, []));
    assert.deepEqual(hs.readRedirect(p, 0, p.length)?.addresses, []);
    const epd = epdForPeerId(Buffer.alloc(32, 1));
    [type, p] = roundTrip((b, o) => hs.writeForwardedIHello(b, o, epd, addresses[0], tag));
    assert.equal(type, 0x0f);
    const fi = hs.readForwardedIHello(p, 0, p.length)!;
    assert.ok(fi.epd.equals(epd) && fi.tag.equals(tag));
    assert.deepEqual(fi.replyAddress, addresses[0]);
    assert.equal(hs.writeForwardedIHello(Buffer.alloc(200), 0, epd, { host: 'example.net', port: 1, origin: 2 }, tag), -1);
  });

  void it('Redirect keeps to its limit and skips names', () => {
    const many = Array.from({ length: 200 }, (_, i): RtmfpAddress => ({ host: `10.0.${i >> 8}.${i & 255}`, port: i, origin: 1 }));
    const buf = Buffer.alloc(2000);
    const end = hs.writeRedirect(buf, 0, 300, tag, [{ host: 'not.an.ip', port: 1, origin: 1 }, ...many]);
    assert.ok(end <= 300);
    const chunk = hs.readRedirect(buf, 3, end)!;
    assert.ok(chunk.addresses.length > 30);
    assert.deepEqual(chunk.addresses, many.slice(0, chunk.addresses.length));
  });

  void it('IIKeying and RIKeying', () => {
    const cert = buildClientCertificate([{ groupId: 2, publicKey: Buffer.alloc(128, 3) }]);
    let [type, p] = roundTrip((b, o) => hs.writeIIKeying(b, o, 0x02000000, cookie, cert, Buffer.from('021d02', 'hex')));
    assert.equal(type, 0x38);
    const ik = hs.readIIKeying(p, 0, p.length)!;
    assert.deepEqual([ik.initiatorSsid, ik.signature.toString()], [0x02000000, 'X']);
    assert.ok(ik.cookie.equals(cookie) && ik.certificate.equals(cert));
    const skrc = buildSkrc(2, Buffer.alloc(128, 5));
    [type, p] = roundTrip((b, o) => hs.writeRIKeying(b, o, 0xfffffffe, skrc));
    assert.equal(type, 0x78);
    const rk = hs.readRIKeying(p, 0, p.length)!;
    assert.equal(rk.responderSsid, 0xfffffffe);
    assert.ok(rk.skrc.equals(skrc));
  });

  void it('certificates and key components have the documented layouts', () => {
    const cert = buildServerCertificate(Buffer.alloc(64, 0xab));
    assert.equal(cert.length, SERVER_CERTIFICATE_SIZE);
    assert.equal(cert.toString('hex'), `010a410e${'ab'.repeat(64)}02150202150502150e`);
    const skrc = buildSkrc(2, Buffer.alloc(128, 5));
    assert.equal(skrc.length, 139);
    assert.ok(skrc.subarray(0, 7).equals(SKRC_PREFIX));
    assert.equal(skrc.subarray(7, 11).toString('hex'), '81020d02');
    assert.ok(readSkrc(skrc)?.publicKey.equals(Buffer.alloc(128, 5)));
    const multi = buildClientCertificate([
      { groupId: 14, publicKey: Buffer.alloc(256, 14) },
      { groupId: 2, publicKey: Buffer.alloc(128, 2) },
    ]);
    assert.ok(certificateDhKey(multi, 2)?.equals(Buffer.alloc(128, 2)));
    assert.ok(certificateDhKey(multi, 14)?.equals(Buffer.alloc(256, 14)));
    assert.equal(certificateDhKey(multi, 5), null);
    assert.equal(certificateSignedEnd(multi), multi.length, 'no marker: the whole certificate is signed');
    const marked = Buffer.concat([multi, Buffer.from([0x00, 0x03, 0x0e, 0x01, 0x02])]);
    assert.equal(certificateSignedEnd(marked), multi.length + 1);
  });
});

void describe('session chunks', () => {
  void it('user data with options, and next user data', () => {
    const options = sc.encodeFlowOptions(Buffer.from('TC\x04\x00', 'latin1'), 2);
    assert.equal(options.toString('hex'), '0500544304000' + '20a0200');
    const data = Buffer.from('payload');
    const buf = Buffer.alloc(100);
    let o = sc.writeUserDataHeader(buf, 0, sc.UserDataFlag.FRAGMENT_BEGIN, 1, 5, 1, options, data.length);
    o += data.copy(buf, o);
    const first = o;
    o = sc.writeNextUserDataHeader(buf, o, sc.UserDataFlag.FRAGMENT_END, null, 3);
    o += buf.write('end', o);
    const it = new ChunkIterator().reset(buf, 0, o);
    const next = (): number => (it.next() ? it.type : -1);
    const chunk = new sc.UserDataChunk();
    const flow = new sc.FlowOptions();
    assert.equal(next(), 0x10);
    assert.equal(it.payloadEnd, first);
    assert.ok(sc.readUserData(buf, it.start, it.payloadEnd, chunk));
    assert.deepEqual([chunk.flags, chunk.flowId, chunk.sequence, chunk.fsnOffset], [0x90, 1, 5, 1]);
    assert.equal(buf.toString('latin1', chunk.dataStart, chunk.dataEnd), 'payload');
    assert.ok(sc.readFlowOptions(buf, chunk.optionsStart, chunk.optionsEnd, flow));
    assert.deepEqual([buf.toString('latin1', flow.metadataStart, flow.metadataEnd), flow.returnFlowId, flow.unknownMandatory], ['TC\x04\x00', 2, false]);
    assert.equal(next(), 0x11);
    assert.ok(sc.readNextUserData(buf, it.start, it.payloadEnd, chunk));
    assert.deepEqual([chunk.flags, chunk.flowId, chunk.sequence, chunk.forwardSequence], [0x20, 1, 6, 4]);
    assert.equal(buf.toString('latin1', chunk.dataStart, chunk.dataEnd), 'end');
    chunk.clear();
    assert.equal(sc.readNextUserData(buf, it.start, it.payloadEnd, chunk), false, '0x11 without a 0x10 before it');
    assert.equal(
      sc.userDataHeaderLength(1, 5, 1, options.length) + data.length + sc.nextUserDataHeaderLength(0) + 3,
      o,
    );
  });

  void it('flags unknown mandatory options and tolerates ignorable ones', () => {
    const flow = new sc.FlowOptions();
    const list = encodeOptions([[0x05, Buffer.from([1])], [0x2001, Buffer.from([2])]], true);
    assert.ok(sc.readFlowOptions(list, 0, list.length - 1, flow));
    assert.equal(flow.unknownMandatory, true);
    const ignorable = encodeOptions([[0x2001, Buffer.from([2])]], true);
    assert.ok(sc.readFlowOptions(ignorable, 0, ignorable.length - 1, flow));
    assert.equal(flow.unknownMandatory, false);
  });

  void it('range acks: the rtmfp.md example and round trips', () => {
    const ack = new sc.AckChunk();
    // cumulative 5, 8-9 received: `05 01 01` after flow and buffer.
    assert.ok(sc.readRangeAck(Buffer.from('0383fe7f050101', 'hex'), 0, 7, ack));
    assert.deepEqual([ack.flowId, ack.bufferBlocks, ack.cumulativeAck, ack.rangeCount, ack.rangeFrom[0], ack.rangeTo[0]], [3, 0xff7f, 5, 1, 8, 9]);
    fc.assert(
      fc.property(fc.nat(1000), fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.nat(50)), { maxLength: 20 }), (cumulative, gaps) => {
        const from: number[] = [];
        const to: number[] = [];
        let last = cumulative;
        for (const [hole, run] of gaps) {
          from.push(last + hole + 1);
          to.push(last + hole + 1 + run);
          last = to[to.length - 1];
        }
        const buf = Buffer.alloc(400);
        const end = sc.writeRangeAck(buf, 0, 7, 127, cumulative, from, to, from.length);
        assert.ok(sc.readRangeAck(buf, 3, end, ack));
        assert.deepEqual([ack.flowId, ack.bufferBlocks, ack.cumulativeAck], [7, 127, cumulative]);
        assert.deepEqual(Array.from(ack.rangeFrom.subarray(0, ack.rangeCount)), from);
        assert.deepEqual(Array.from(ack.rangeTo.subarray(0, ack.rangeCount)), to);
      }),
    );
  });

  void it('bitmap acks convert to ranges (bit 0 = cumulative + 2)', () => {
    const ack = new sc.AckChunk();
    // flow 1, buffer 10, cumulative 4; bits 0b00001101 then 0b10000000: 6, 8-9, and 6+15 = 21.
    assert.ok(sc.readBitmapAck(Buffer.from('010a040d80', 'hex'), 0, 5, ack));
    assert.deepEqual(
      Array.from({ length: ack.rangeCount }, (_, i) => [ack.rangeFrom[i], ack.rangeTo[i]]),
      [[6, 6], [8, 9], [21, 21]],
    );
    assert.ok(sc.readBitmapAck(Buffer.alloc(600, 0x55).fill(1, 0, 3), 0, 600, ack));
    assert.equal(ack.rangeCount, sc.MAX_ACK_RANGES);
    assert.equal(ack.rangesTruncated, true);
  });

  void it('probe, exception, ping and close', () => {
    let [type, p] = roundTrip((b, o) => sc.writeBufferProbe(b, o, 300));
    assert.deepEqual([type, sc.readBufferProbe(p, 0, p.length, { pos: 0 })], [0x18, 300]);
    [type, p] = roundTrip((b, o) => sc.writeFlowException(b, o, 9, 0));
    const ex = new sc.FlowException();
    assert.ok(sc.readFlowException(p, 0, p.length, ex));
    assert.deepEqual([type, ex.flowId, ex.code], [0x5e, 9, 0]);
    [type, p] = roundTrip((b, o) => sc.writePing(b, o, 0x41, Buffer.from('xMy'), 1, 3));
    assert.deepEqual([type, p.toString()], [0x41, 'My']);
    [type, p] = roundTrip((b, o) => sc.writeSessionClose(b, o, false));
    assert.deepEqual([type, p.length], [0x0c, 0]);
    [type] = roundTrip((b, o) => sc.writeSessionClose(b, o, true));
    assert.equal(type, 0x4c);
  });
});

void describe('addresses, EPDs, options', () => {
  void it('round-trips addresses and formats them', () => {
    const r = new WireReader();
    for (const a of addresses) {
      const buf = Buffer.alloc(20);
      const end = writeAddress(buf, 0, a);
      assert.deepEqual(readAddress(r.reset(buf, 0, end)), a);
    }
    const mapped = Buffer.alloc(20);
    assert.equal(writeAddress(mapped, 0, { host: '::ffff:198.51.100.7', port: 80, origin: 2 }), 7, 'IPv4-mapped is written as IPv4');
    assert.equal(formatAddress({ host: '2001:db8::1', port: 5 }), '[2001:db8::1]:5');
    assert.equal(ipBytes('1.2.3.256'), null);
    assert.equal(ipBytes('1::2::3'), null);
    assert.equal(ipBytes('2001:db8:0:0:0:0:0:1')?.toString('hex'), '20010db8000000000000000000000001');
  });

  void it('parses host:port forms', () => {
    assert.deepEqual(parseHostPort('192.168.137.1:55655', 1935, 1), { host: '192.168.137.1', port: 55655, origin: 1 });
    assert.deepEqual(parseHostPort('[::]:49415', 1935, 1), { host: '::', port: 49415, origin: 1 });
    assert.deepEqual(parseHostPort('example.net', 1935, 3), { host: 'example.net', port: 1935, origin: 3 });
    assert.equal(parseHostPort('h:99999', 1935, 1), null);
    assert.equal(parseHostPort('h:', 1935, 1), null);
  });

  void it('parses EPDs generically, long URLs included', () => {
    const long = `rtmfp://example.net:1936/app/${'x'.repeat(300)}?a=1&b=two`;
    assert.equal(parseEpd(epdForUrl(long))?.url, long);
    const id = Buffer.alloc(32, 0x42);
    assert.equal(epdForPeerId(id).toString('hex'), `210f${'42'.repeat(32)}`);
    assert.ok(parseEpd(epdForPeerId(id))?.peerId?.equals(id));
    assert.equal(parseEpd(Buffer.from('0a0a', 'hex')), null, 'truncated option');
    assert.equal(parseEpd(Buffer.from('020e01', 'hex')), null, 'names nothing');
    assert.equal(parseEpd(Buffer.from('050a6c697665', 'hex'))?.url, 'live', 'librtmfp sends the path only');
    assert.deepEqual(parseRtmfpUrl(long), { host: 'example.net', port: 1936, path: `/app/${'x'.repeat(300)}`, properties: { a: '1', b: 'two' } });
    assert.deepEqual(parseRtmfpUrl('live?x=1'), { host: '', port: 0, path: '/live', properties: { x: '1' } });
    assert.deepEqual(parseRtmfpUrl('rtmfp://[::1]:19350/live').host, '::1');
  });

  void it('option lists end at the marker or the end', () => {
    const r = new OptionReader();
    const list = Buffer.concat([encodeOptions([[1, Buffer.from('a')], [0x1234, Buffer.alloc(200)]], true), Buffer.from('rest')]);
    r.reset(list, 0, list.length);
    assert.ok(r.next());
    assert.deepEqual([r.type, r.valueEnd - r.valueStart], [1, 1]);
    assert.ok(r.next());
    assert.deepEqual([r.type, r.valueEnd - r.valueStart], [0x1234, 200]);
    assert.equal(r.next(), false);
    assert.equal(r.ended, OptionsEnd.MARKER);
    assert.equal(list.toString('latin1', r.pos), 'rest');
  });

  void it('offsets of RTMFP_CONTENT_OFFSET leave room for SSID and checksum', () => {
    assert.equal(RTMFP_CONTENT_OFFSET, 6);
  });
});
