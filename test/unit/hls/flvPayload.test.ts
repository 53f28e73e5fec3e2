/**
 * FLV tag bodies to segmenter input: legacy AVC/HEVC (AVCPacketType, signed 24-bit composition
 * time), Enhanced RTMP video (FourCC, SequenceStart / CodedFrames / CodedFramesX / SequenceEnd,
 * ModEx prefixes, command frames), AAC, MP3 and Enhanced audio (Opus, mp4a); foreign codecs are
 * `unsupported`, broken bytes `invalid`, and nothing throws, whatever the bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAudio, parseVideo } from '../../../src/http/hls/flvPayload.js';
import { avcRecord, hevcRecord, prng, SPS } from './samples.js';

const record = avcRecord(Buffer.from(SPS.avc.high320x240, 'hex'), Buffer.from('68ebecb22c', 'hex'));
const hvcc = hevcRecord(Buffer.from(SPS.hevc.main320x240, 'hex'));
const nalus = Buffer.from('0000000565888421ff', 'hex');
const b = (...parts: (number[] | Buffer | string)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.isBuffer(p) ? p : Buffer.from(p))));

describe('FLV video payloads', () => {
  it('reads legacy AVC sequence headers and NAL units with their composition time', () => {
    const config = parseVideo(b([0x17, 0, 0, 0, 0], record));
    assert.equal(config.type, 'config');
    assert.equal(config.type === 'config' && config.config.codecs, 'avc1.64000d');
    assert.deepEqual(parseVideo(b([0x17, 1, 0, 0, 80], nalus)), { type: 'frame', codec: 'avc1', data: nalus, cts: 80, keyframe: true });
    const negative = parseVideo(b([0x27, 1, 0xff, 0xff, 0xd8], nalus));
    assert.equal(negative.type === 'frame' && negative.cts, -40, 'SI24');
    assert.equal(negative.type === 'frame' && negative.keyframe, false);
    assert.deepEqual(parseVideo(b([0x17, 2, 0, 0, 0])), { type: 'ignore' }, 'end of sequence');
    assert.deepEqual(parseVideo(b([0x57, 0])), { type: 'ignore' }, 'command frame');
  });

  it('reads legacy HEVC (codec 12) like AVC', () => {
    const config = parseVideo(b([0x1c, 0, 0, 0, 0], hvcc));
    assert.equal(config.type === 'config' && config.config.codecs, 'hvc1.1.6.L60.90');
    assert.equal(parseVideo(b([0x1c, 1, 0, 0, 0], nalus)).type, 'frame');
  });

  it('reads Enhanced RTMP video: SequenceStart, CodedFrames, CodedFramesX, SequenceEnd', () => {
    const config = parseVideo(b([0x90], 'hvc1', hvcc));
    assert.equal(config.type === 'config' && config.config.codec, 'hvc1');
    assert.deepEqual(parseVideo(b([0x91], 'hvc1', [0, 0, 40], nalus)), { type: 'frame', codec: 'hvc1', data: nalus, cts: 40, keyframe: true });
    assert.deepEqual(parseVideo(b([0xa3], 'avc1', nalus)), { type: 'frame', codec: 'avc1', data: nalus, cts: 0, keyframe: false });
    assert.deepEqual(parseVideo(b([0x92], 'hvc1')), { type: 'ignore' });
    assert.deepEqual(parseVideo(b([0x94], 'hvc1', [2, 0])), { type: 'ignore' }, 'metadata');
    assert.deepEqual(parseVideo(b([0xd1], 'hvc1', [0, 0, 0], nalus)), { type: 'ignore' }, 'command frame');
  });

  it('skips ModEx prefixes to the real packet type', () => {
    // ModEx (7): size-1 = 2 → 3 bytes of modifier data, then [modExType | CodedFramesX]
    assert.deepEqual(parseVideo(b([0x97, 2, 1, 2, 3, 0x03], 'avc1', nalus)), { type: 'frame', codec: 'avc1', data: nalus, cts: 0, keyframe: true });
    assert.equal(parseVideo(b([0x97, 200, 1, 2])).type, 'invalid', 'truncated modifier');
  });

  it('says unsupported for other codecs, invalid for broken headers', () => {
    assert.deepEqual(parseVideo(b([0x14, 0, 0, 0])), { type: 'unsupported', codec: 'flv video codec 4' }, 'VP6');
    assert.deepEqual(parseVideo(b([0x12, 0])), { type: 'unsupported', codec: 'flv video codec 2' }, 'Sorenson');
    assert.deepEqual(parseVideo(b([0x90], 'av01', [1])), { type: 'unsupported', codec: 'av01' });
    assert.deepEqual(parseVideo(b([0x96], 'av01')), { type: 'unsupported', codec: 'multitrack video' });
    assert.equal(parseVideo(b([0x17, 1])).type, 'invalid');
    assert.equal(parseVideo(b([0x91], 'avc')).type, 'invalid');
    assert.equal(parseVideo(b([0x17, 0, 0, 0, 0], record.subarray(0, 10))).type, 'invalid', 'truncated record');
    assert.deepEqual(parseVideo(Buffer.alloc(0)), { type: 'ignore' });
  });
});

describe('FLV audio payloads', () => {
  it('reads AAC, MP3 and Enhanced audio (Opus, mp4a)', () => {
    const aac = parseAudio(b([0xaf, 0], Buffer.from('1210', 'hex')));
    assert.equal(aac.type === 'config' && aac.config.codecs, 'mp4a.40.2');
    assert.deepEqual(parseAudio(b([0xaf, 1, 9, 9])), { type: 'frame', codec: 'mp4a', data: Buffer.from([9, 9]) });
    assert.deepEqual(parseAudio(b([0x2f, 0xff, 0xfb])), { type: 'frame', codec: 'mp3', data: Buffer.from([0xff, 0xfb]) });
    const opus = parseAudio(b([0x90], 'Opus', Buffer.from('4f707573486561640101380180bb00000000' + '00', 'hex')));
    assert.equal(opus.type === 'config' && opus.config.channels, 1);
    assert.deepEqual(parseAudio(b([0x91], 'Opus', [0xfc, 1])), { type: 'frame', codec: 'Opus', data: Buffer.from([0xfc, 1]) });
    const mp4a = parseAudio(b([0x90], 'mp4a', Buffer.from('1190', 'hex')));
    assert.equal(mp4a.type === 'config' && mp4a.config.sampleRate, 48000);
    assert.equal(parseAudio(b([0x91], '.mp3', [0xff, 0xfb])).type, 'frame');
    assert.deepEqual(parseAudio(b([0x97, 0, 9, 0x01], 'Opus', [0xfc])), { type: 'frame', codec: 'Opus', data: Buffer.from([0xfc]) }, 'ModEx');
  });

  it('says unsupported for other formats, invalid for broken headers', () => {
    assert.deepEqual(parseAudio(b([0xb2, 1])), { type: 'unsupported', codec: 'flv sound format 11' }, 'Speex');
    assert.deepEqual(parseAudio(b([0x62, 1])), { type: 'unsupported', codec: 'flv sound format 6' }, 'Nellymoser');
    assert.deepEqual(parseAudio(b([0x90], 'fLaC')), { type: 'unsupported', codec: 'fLaC' });
    assert.equal(parseAudio(b([0xaf])).type, 'invalid');
    assert.equal(parseAudio(b([0xaf, 0], [0x12])).type, 'invalid', 'truncated AudioSpecificConfig');
    assert.equal(parseAudio(b([0x90], 'Opus', 'OpusHead')).type, 'invalid', 'truncated ID header');
  });

  it('never throws on random bytes, nor on any truncation of valid headers', () => {
    const random = prng(7);
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
      parseVideo(bytes);
      parseAudio(bytes);
    }
    for (const whole of [b([0x17, 0, 0, 0, 0], record), b([0x1c, 0, 0, 0, 0], hvcc), b([0x90], 'hvc1', hvcc)]) {
      for (let n = 0; n <= whole.length; n++) {
        const r = parseVideo(whole.subarray(0, n));
        assert.ok(n === whole.length ? r.type === 'config' : r.type !== 'config', `prefix of ${n} bytes`);
      }
    }
  });
});
