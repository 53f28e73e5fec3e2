/**
 * Codec configuration parsing against known bytes: SPS from x264/x265 (sizes and profiles as
 * ffprobe reported them for the same streams), including frame cropping, interlaced coding,
 * 4:4:4 and 4:2:2 chroma and HEVC conformance windows; the decoder configuration records around
 * them; AAC, Opus and MP3 configurations. Garbage throws RangeError, which the FLV layer turns
 * into an invalid packet, never an exception out of writeFrame.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BitReader, nalToRbsp } from '../../../src/http/hls/BitReader.js';
import { mp3Samples, opusPacketSamples, parseAacConfig, parseMp3Header, parseOpusHead } from '../../../src/http/hls/audio.js';
import { avcCodecString, parseAvcRecord, parseAvcSps } from '../../../src/http/hls/avc.js';
import { hevcCodecString, parseHevcRecord, parseHevcSps } from '../../../src/http/hls/hevc.js';
import { avcRecord, hevcRecord, SPS } from './samples.js';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

describe('H.264 SPS', () => {
  const cases: [keyof typeof SPS.avc, number, number, string, Partial<{ chroma: number; depth: number; frameMbsOnly: boolean }>][] = [
    ['high320x240', 320, 240, 'avc1.64000d', {}],
    ['high1080', 1920, 1080, 'avc1.640028', { frameMbsOnly: true }],
    ['interlaced1080', 1920, 1080, 'avc1.640028', { frameMbsOnly: false }],
    ['high444_100x50', 100, 50, 'avc1.f4000a', { chroma: 3 }],
    ['high422_10bit', 642, 362, 'avc1.7a001e', { chroma: 2, depth: 10 }],
    ['baseline176x144', 176, 144, 'avc1.42c00b', { chroma: 1 }],
  ];
  for (const [name, width, height, codecs, extra] of cases) {
    it(`${name}: ${width}x${height}, ${codecs}`, () => {
      const sps = parseAvcSps(hex(SPS.avc[name]));
      assert.equal(sps.width, width);
      assert.equal(sps.height, height);
      assert.equal(avcCodecString(sps), codecs);
      if (extra.chroma !== undefined) {
        assert.equal(sps.chromaFormatIdc, extra.chroma);
      }
      if (extra.depth !== undefined) {
        assert.equal(sps.bitDepth, extra.depth);
      }
      if (extra.frameMbsOnly !== undefined) {
        assert.equal(sps.frameMbsOnly, extra.frameMbsOnly);
      }
    });
  }

  it('throws RangeError on truncated or foreign NAL units', () => {
    const full = hex(SPS.avc.high1080);
    // The fields up to the cropping offsets end in byte 11 (the VUI after them is not read).
    assert.equal(parseAvcSps(full.subarray(0, 11)).height, 1080);
    for (let n = 0; n < 11; n++) {
      assert.throws(() => parseAvcSps(full.subarray(0, n)), RangeError, `first ${n} bytes`);
    }
    assert.throws(() => parseAvcSps(hex('68ee3c80')), RangeError, 'a PPS is not an SPS');
  });

  it('reads the record around it, and refuses broken records', () => {
    const record = avcRecord(hex(SPS.avc.high320x240), hex('68ebecb22c'));
    const config = parseAvcRecord(record);
    assert.deepEqual([config.codec, config.width, config.height, config.codecs], ['avc1', 320, 240, 'avc1.64000d']);
    assert.equal(config.record, record, 'kept as sent, for avcC');
    for (let n = 0; n < record.length; n++) {
      assert.throws(() => parseAvcRecord(record.subarray(0, n)), RangeError, `first ${n} bytes`);
    }
    const bad = Buffer.from(record);
    bad[4] = 0xfe; // NAL length size 3
    assert.throws(() => parseAvcRecord(bad), RangeError);
  });
});

describe('HEVC SPS', () => {
  const cases: [keyof typeof SPS.hevc, number, number, string][] = [
    ['main320x240', 320, 240, 'hvc1.1.6.L60.90'],
    ['main1080', 1920, 1080, 'hvc1.1.6.L120.90'],
    ['main10_642x362', 642, 362, 'hvc1.2.4.L63.90'],
    ['rext422_200x100', 200, 100, 'hvc1.4.10.L30.9D.8'],
  ];
  for (const [name, width, height, codecs] of cases) {
    it(`${name}: ${width}x${height}, ${codecs}`, () => {
      const sps = parseHevcSps(hex(SPS.hevc[name]));
      assert.equal(sps.width, width);
      assert.equal(sps.height, height);
      assert.equal(hevcCodecString(sps), codecs);
    });
  }

  it('writes the high tier, profile spaces and all-zero constraints as ISO 14496-15 Annex E says', () => {
    const sps = { ...parseHevcSps(hex(SPS.hevc.main1080)), tierFlag: true, profileSpace: 1, constraintBytes: [0, 0, 0, 0, 0, 0] };
    assert.equal(hevcCodecString(sps), 'hvc1.A1.6.H120');
  });

  it('reads the record around it, and refuses broken records', () => {
    const record = hevcRecord(hex(SPS.hevc.main1080));
    const config = parseHevcRecord(record);
    assert.deepEqual([config.codec, config.width, config.height, config.codecs], ['hvc1', 1920, 1080, 'hvc1.1.6.L120.90']);
    for (let n = 0; n < record.length; n++) {
      assert.throws(() => parseHevcRecord(record.subarray(0, n)), RangeError, `first ${n} bytes`);
    }
  });
});

describe('bit reading', () => {
  it('reads fixed fields and exp-Golomb codes, and stops at the end', () => {
    // 1 | 010 | 011 | 00100 | 00101 | 1111 → ue 0, 1, 2, 3, se(4) = -2, then 4 bits
    const r = new BitReader(Buffer.from([0b10100110, 0b01000010, 0b11111000]));
    assert.deepEqual([r.ue(), r.ue(), r.ue(), r.ue(), r.se(), r.u(4)], [0, 1, 2, 3, -2, 15]);
    assert.equal(r.remaining, 3);
    assert.throws(() => r.u(4), RangeError);
    assert.throws(() => new BitReader(Buffer.alloc(5)).ue(), RangeError, 'over 31 leading zeros');
  });

  it('removes emulation prevention bytes', () => {
    assert.deepEqual(nalToRbsp(hex('00000300000301000003')), hex('00000000010000'));
    assert.deepEqual(nalToRbsp(hex('000003')), hex('0000'));
  });
});

describe('audio configurations', () => {
  it('reads AAC LC and HE-AAC AudioSpecificConfigs', () => {
    const lc = parseAacConfig(hex('1210'));
    assert.deepEqual([lc.sampleRate, lc.channels, lc.codecs, lc.frameSamples], [44100, 2, 'mp4a.40.2', 1024]);
    // Explicit SBR: object type 5, core 22050 Hz (the timescale: 1024 core samples a frame), 44100 Hz out.
    const he = parseAacConfig(hex('2b920800'));
    assert.deepEqual([he.sampleRate, he.channels, he.codecs], [22050, 2, 'mp4a.40.5']);
    assert.equal(parseAacConfig(hex('1214')).frameSamples, 960, 'frameLengthFlag');
    assert.throws(() => parseAacConfig(hex('12')), RangeError);
    assert.throws(() => parseAacConfig(hex('1690')), RangeError, 'reserved sampling frequency index');
    assert.throws(() => parseAacConfig(hex('17f0')), RangeError, 'explicit frequency cut short');
  });

  it('reads the Opus ID header, and times packets from their TOC byte', () => {
    const head = hex('4f707573486561640102380180bb000000000000');
    const opus = parseOpusHead(head.subarray(0, 19));
    assert.deepEqual([opus.sampleRate, opus.channels, opus.codecs, opus.opus?.preSkip, opus.opus?.inputSampleRate], [48000, 2, 'opus', 312, 48000]);
    assert.throws(() => parseOpusHead(head.subarray(0, 12)), RangeError);
    assert.throws(() => parseOpusHead(Buffer.from('OpusHeaX'.padEnd(19, '\0'))), RangeError);
    assert.equal(parseOpusHead(Buffer.alloc(0)).channels, 2, 'no header: the stereo default');
    assert.equal(opusPacketSamples(hex('fc')), 960, 'CELT FB 20 ms, one frame');
    assert.equal(opusPacketSamples(hex('18')), 2880, 'SILK 60 ms');
    assert.equal(opusPacketSamples(hex('1b02')), 5760, 'code 3: two frames of 60 ms');
    assert.equal(opusPacketSamples(hex('1b03')), 0, 'over 120 ms');
    assert.equal(opusPacketSamples(hex('1b')), 0, 'code 3 without its frame count');
    assert.equal(opusPacketSamples(hex('fd00')), 1920, 'two frames');
    assert.equal(opusPacketSamples(hex('7303')), 1440, 'code 3: 3 hybrid frames of 10 ms');
    assert.equal(opusPacketSamples(Buffer.alloc(0)), 0);
  });

  it('reads MP3 frame headers and counts the samples of a payload', () => {
    const h = parseMp3Header(hex('fffb9064'))!;
    assert.deepEqual([h.version, h.layer, h.sampleRate, h.channels, h.samples, h.frameBytes], [1, 3, 44100, 2, 1152, 417]);
    const mpeg2 = parseMp3Header(hex('fff390c4'))!;
    assert.deepEqual([mpeg2.version, mpeg2.sampleRate, mpeg2.channels, mpeg2.samples], [2, 22050, 1, 576]);
    assert.equal(parseMp3Header(hex('ffea9064')), null, 'reserved version');
    const two = Buffer.concat([hex('fffb9064'), Buffer.alloc(413), hex('fffb9064'), Buffer.alloc(413)]);
    assert.equal(mp3Samples(two), 2304);
    assert.equal(mp3Samples(hex('00112233')), 0);
  });
});
