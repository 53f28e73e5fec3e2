import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RtmpChunkReader } from '../../../src/protocols/rtmp/RtmpChunkReader.js';
import type { RtmpMessage } from '../../../src/protocols/rtmp/RtmpChunkReader.js';
import {
  abort, acknowledgement, encodedSize, encodeMessage, setChunkSize, setPeerBandwidth, streamIdOffset, userControl,
  windowAckSize, withStreamId,
} from '../../../src/protocols/rtmp/RtmpChunkWriter.js';
import { BandwidthLimit, MessageType, UserControlEvent } from '../../../src/protocols/rtmp/constants.js';

const readAll = (bytes: Buffer, chunkSize = 128): RtmpMessage[] => {
  const got: RtmpMessage[] = [];
  const reader = new RtmpChunkReader((m) => got.push(m));
  reader.chunkSize = chunkSize;
  reader.push(bytes);
  return got;
};

void test('encodedSize matches the encoding for any message', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 65599 }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 3000 }),
      fc.oneof(fc.integer({ min: 1, max: 512 }), fc.constant(0x7fffffff)),
      (csid, ts, length, chunkSize) => {
        const out = encodeMessage(csid, 9, 1, ts, Buffer.alloc(length), chunkSize);
        assert.equal(out.length, encodedSize(csid, ts, length, chunkSize));
      },
    ),
  );
});

void test('layout: fmt 0 first, fmt 3 continuations, basic header forms', () => {
  const payload = Buffer.alloc(300, 7);
  const out = encodeMessage(6, 9, 0x01020304, 1000, payload, 128);
  assert.deepEqual([...out.subarray(0, 12)], [0x06, 0, 0x03, 0xe8, 0, 0x01, 0x2c, 9, 4, 3, 2, 1]);
  assert.equal(out[12 + 128], 0xc6);
  assert.equal(out[12 + 128 + 1 + 128], 0xc6);
  assert.equal(out.length, 12 + 300 + 2);

  assert.deepEqual([...encodeMessage(64, 1, 0, 0, Buffer.alloc(0), 128).subarray(0, 2)], [0x00, 0]);
  assert.deepEqual([...encodeMessage(319, 1, 0, 0, Buffer.alloc(0), 128).subarray(0, 2)], [0x00, 255]);
  assert.deepEqual([...encodeMessage(320, 1, 0, 0, Buffer.alloc(0), 128).subarray(0, 3)], [0x01, 0, 1]);
  assert.deepEqual([...encodeMessage(65599, 1, 0, 0, Buffer.alloc(0), 128).subarray(0, 3)], [0x01, 0xff, 0xff]);
  const cont = encodeMessage(320, 9, 0, 0, Buffer.alloc(2), 1);
  assert.deepEqual([...cont.subarray(3 + 11 + 1, 3 + 11 + 1 + 3)], [0xc1, 0, 1]);
});

void test('extended timestamps are written on the first chunk and repeated on every fmt 3 chunk', () => {
  const ts = 0x12345678;
  const out = encodeMessage(4, 8, 1, ts, Buffer.alloc(300), 128);
  assert.equal(out.readUIntBE(1, 3), 0xffffff);
  assert.equal(out.readUInt32BE(12), ts);
  const second = 1 + 11 + 4 + 128;
  assert.equal(out[second], 0xc4);
  assert.equal(out.readUInt32BE(second + 1), ts);
  const third = second + 1 + 4 + 128;
  assert.equal(out.readUInt32BE(third + 1), ts);
  assert.deepEqual(readAll(out)[0].timestamp, ts);
  // 0xFFFFFF itself already needs the extended field.
  const edge = encodeMessage(4, 8, 1, 0xffffff, Buffer.alloc(1), 128);
  assert.equal(edge.length, 1 + 11 + 4 + 1);
  assert.equal(readAll(edge)[0].timestamp, 0xffffff);
  assert.equal(encodeMessage(4, 8, 1, 0xfffffe, Buffer.alloc(1), 128).length, 1 + 11 + 1);
});

void test('patching the stream id at streamIdOffset gives a valid message for another stream', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(2, 63, 64, 319, 320, 65599),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 600 }),
      (csid, ts, streamId, length) => {
        const payload = Buffer.alloc(length, 3);
        const shared = encodeMessage(csid, 9, 1, ts, payload, 128);
        const patched = withStreamId(shared, csid, streamId);
        assert.equal(patched.readUInt32LE(streamIdOffset(csid)), streamId >>> 0);
        assert.equal(shared.readUInt32LE(streamIdOffset(csid)), 1, 'the shared copy is untouched');
        const [msg] = readAll(patched);
        assert.equal(msg.streamId, streamId);
        assert.equal(msg.timestamp, ts);
        assert.deepEqual(msg.payload, payload);
      },
    ),
  );
});

void test('protocol control helpers', () => {
  const check = (bytes: Buffer, type: number, payload: number[]) => {
    const [msg] = readAll(bytes);
    assert.equal(msg.csid, 2);
    assert.equal(msg.streamId, 0);
    assert.equal(msg.timestamp, 0);
    assert.equal(msg.type, type);
    assert.deepEqual([...msg.payload], payload);
  };
  check(setChunkSize(4096), MessageType.SET_CHUNK_SIZE, [0, 0, 0x10, 0]);
  check(setChunkSize(0x7fffffff), MessageType.SET_CHUNK_SIZE, [0x7f, 0xff, 0xff, 0xff]);
  check(abort(6), MessageType.ABORT, [0, 0, 0, 6]);
  check(acknowledgement(0x1_0000_0005), MessageType.ACK, [0, 0, 0, 5]);
  check(windowAckSize(2_500_000), MessageType.WINDOW_ACK_SIZE, [0, 0x26, 0x25, 0xa0]);
  check(setPeerBandwidth(2_500_000, BandwidthLimit.DYNAMIC), MessageType.SET_PEER_BANDWIDTH, [0, 0x26, 0x25, 0xa0, 2]);
  check(userControl(UserControlEvent.STREAM_BEGIN, 1), MessageType.USER_CONTROL, [0, 0, 0, 0, 0, 1]);
  check(userControl(UserControlEvent.SET_BUFFER_LENGTH, 1, 3000), MessageType.USER_CONTROL, [0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8]);
  check(userControl(UserControlEvent.PING_RESPONSE, 0xdeadbeef), MessageType.USER_CONTROL, [0, 7, 0xde, 0xad, 0xbe, 0xef]);
  assert.throws(() => setChunkSize(0), RangeError);
  assert.throws(() => setChunkSize(0x80000000), RangeError);
});

void test('invalid arguments are refused', () => {
  assert.throws(() => encodeMessage(1, 9, 0, 0, Buffer.alloc(1), 128), RangeError);
  assert.throws(() => encodeMessage(65600, 9, 0, 0, Buffer.alloc(1), 128), RangeError);
  assert.throws(() => encodeMessage(3, 9, 0, 0, Buffer.alloc(1), 0), RangeError);
  assert.throws(() => encodeMessage(3, 9, 0, 0, Buffer.alloc(0x1000000), 128), RangeError);
});
