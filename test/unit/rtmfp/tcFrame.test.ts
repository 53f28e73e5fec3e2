/**
 * A frame's TC message (what an RTMFP player's flows carry): encoded once per frame for every
 * subscriber of a thread, in a buffer of its own (a slice of Node's pool would keep a whole slab
 * alive while fragments wait for acks), with the FLV tag type as the message type.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameKind, MediaFrame, WireSlots } from '../../../src/media/MediaFrame.js';
import { encodeTcFrame, encodeTcMessage } from '../../../src/protocols/rtmfp/tcMessage.js';

describe('RTMFP frame messages', () => {
  it('encodes a frame once for every subscriber, in a buffer of its own', () => {
    // A small payload from Node's shared pool, as a publisher's frames usually are.
    const payload = Buffer.from([0xaf, 0x01, 1, 2, 3, 4, 5]);
    const audio = new MediaFrame(FrameKind.AUDIO, 0x1_0000_0123, payload);
    const slots = new WireSlots();
    const a = audio.encoded(slots, 'rtmfp:tc', encodeTcFrame);
    const b = audio.encoded(slots, 'rtmfp:tc', encodeTcFrame);
    assert.equal(a, b, 'one encoding shared by the subscribers');
    assert.ok(a.equals(encodeTcMessage(FrameKind.AUDIO, 0x1_0000_0123, payload)));
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, a.length);
  });

  it('sends data frames as AMF0 data messages (type 18)', () => {
    const onMetaData = Buffer.from('02000a6f6e4d65746144617461', 'hex');
    const message = encodeTcFrame(new MediaFrame(FrameKind.DATA, 40, onMetaData));
    assert.equal(message[0], 18);
    assert.equal(message.readUInt32BE(1), 40);
    assert.ok(message.subarray(5).equals(onMetaData));
  });
});
