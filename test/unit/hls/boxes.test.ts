/**
 * The fMP4 box writer: the structure and fields of init segments (per codec sample entry) and of
 * fragments (tfhd default-base-is-moof, 64-bit tfdt, trun data offsets that land on the samples
 * in the mdat, signed composition offsets when needed), read back with a box parser.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAacConfig, parseOpusHead } from '../../../src/http/hls/audio.js';
import { parseAvcRecord } from '../../../src/http/hls/avc.js';
import { BoxWriter } from '../../../src/http/hls/BoxWriter.js';
import { mediaFragment, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS } from '../../../src/http/hls/fragment.js';
import { parseHevcRecord } from '../../../src/http/hls/hevc.js';
import { initSegment } from '../../../src/http/hls/initSegment.js';
import { mp3Config, parseMp3Header } from '../../../src/http/hls/audio.js';
import { find, findAll, parseBoxes } from './hlsTestKit.js';
import { avcRecord, hevcRecord, SPS } from './samples.js';

const avc = parseAvcRecord(avcRecord(Buffer.from(SPS.avc.high320x240, 'hex'), Buffer.from('68ebecb22c', 'hex')));
const hevc = parseHevcRecord(hevcRecord(Buffer.from(SPS.hevc.main1080, 'hex')));
const aac = parseAacConfig(Buffer.from('1210', 'hex'));
const opus = parseOpusHead(Buffer.from('4f707573486561640102380180bb00000000' + '00', 'hex'));

const u32 = (b: Buffer, at: number): number => b.readUInt32BE(at);

describe('BoxWriter', () => {
  it('patches sizes of nested boxes and refuses unbalanced ones', () => {
    const w = new BoxWriter(4);
    w.open('moov').openFull('mvhd', 1, 0x020001).u64(2 ** 40 + 7).close().open('trak').close().close();
    const bytes = w.finish();
    const [moov] = parseBoxes(bytes);
    assert.equal(moov.size, bytes.length);
    assert.deepEqual(moov.children.map((c) => [c.type, c.size]), [['mvhd', 20], ['trak', 8]]);
    const mvhd = moov.children[0].body;
    assert.equal(mvhd[0], 1);
    assert.equal(mvhd.readUIntBE(1, 3), 0x020001);
    assert.equal(Number(mvhd.readBigUInt64BE(4)), 2 ** 40 + 7);
    assert.throws(() => new BoxWriter().open('moov').finish());
    assert.throws(() => new BoxWriter().close());
  });
});

describe('init segment', () => {
  it('has ftyp, then moov with mvhd, a trak per track and mvex/trex', () => {
    const boxes = parseBoxes(initSegment(avc, aac));
    assert.deepEqual(boxes.map((b) => b.type), ['ftyp', 'moov']);
    assert.equal(find(boxes, 'ftyp').body.toString('latin1', 0, 4), 'iso6');
    assert.deepEqual(find(boxes, 'moov').children.map((b) => b.type), ['mvhd', 'trak', 'trak', 'mvex']);
    const [video, audio] = findAll(boxes, 'moov/trak');
    const tkhd = find(video.children, 'tkhd').body;
    assert.equal(u32(tkhd, 12), 1, 'video is track 1');
    assert.equal(u32(tkhd, 76), 320 * 65536);
    assert.equal(u32(tkhd, 80), 240 * 65536);
    assert.equal(u32(find(audio.children, 'tkhd').body, 12), 2, 'audio is track 2');
    assert.equal(u32(find(video.children, 'mdia/mdhd').body, 12), 90000);
    assert.equal(u32(find(audio.children, 'mdia/mdhd').body, 12), 44100, 'audio timescale: its sample rate');
    assert.equal(find(video.children, 'mdia/hdlr').body.toString('latin1', 8, 12), 'vide');
    assert.equal(find(audio.children, 'mdia/hdlr').body.toString('latin1', 8, 12), 'soun');
    assert.equal(findAll(video.children, 'mdia/minf/vmhd').length, 1);
    assert.equal(findAll(audio.children, 'mdia/minf/smhd').length, 1);
    assert.equal(find(video.children, 'mdia/minf/dinf/dref').children[0].type, 'url ');
    const stbl = find(video.children, 'mdia/minf/stbl');
    assert.deepEqual(stbl.children.map((b) => b.type), ['stsd', 'stts', 'stsc', 'stsz', 'stco']);
    for (const empty of ['stts', 'stsc', 'stco']) {
      assert.equal(u32(find(stbl.children, empty).body, 4), 0, `${empty} has no entries`);
    }
    assert.equal(u32(find(stbl.children, 'stsz').body, 8), 0);
    const trex = findAll(boxes, 'moov/mvex/trex');
    assert.deepEqual(trex.map((t) => [u32(t.body, 4), u32(t.body, 8)]), [[1, 1], [2, 1]]);
  });

  it('carries the AVC record in avc1/avcC and the AAC config in mp4a/esds', () => {
    const boxes = parseBoxes(initSegment(avc, aac));
    const [video, audio] = findAll(boxes, 'moov/trak');
    const entry = find(video.children, 'mdia/minf/stbl/stsd/avc1');
    assert.equal(entry.body.readUInt16BE(24), 320);
    assert.equal(entry.body.readUInt16BE(26), 240);
    assert.ok(find(entry.children, 'avcC').body.equals(avc.record));
    const mp4a = find(audio.children, 'mdia/minf/stbl/stsd/mp4a');
    assert.equal(mp4a.body.readUInt16BE(16), 2, 'channels');
    assert.equal(u32(mp4a.body, 24), 44100 * 65536);
    const esds = find(mp4a.children, 'esds').body;
    // ES_Descriptor(3) > DecoderConfigDescriptor(4, AAC 0x40, audio stream 0x15) > DecoderSpecificInfo(5) = ASC
    assert.deepEqual([...esds.subarray(4, 6)], [0x03, esds.length - 6]);
    const dcd = esds.indexOf(0x04, 9);
    assert.deepEqual([esds[dcd + 2], esds[dcd + 3]], [0x40, 0x15]);
    const dsi = dcd + 15;
    assert.deepEqual([...esds.subarray(dsi, dsi + 4)], [0x05, 2, 0x12, 0x10]);
    assert.deepEqual([...esds.subarray(esds.length - 3)], [0x06, 1, 0x02], 'SLConfigDescriptor last');
  });

  it('writes hvc1/hvcC, Opus/dOps (big-endian fields) and MP3 as mp4a with object type 0x6B', () => {
    const hevcInit = parseBoxes(initSegment(hevc, opus));
    const entry = find(hevcInit, 'moov/trak/mdia/minf/stbl/stsd/hvc1');
    assert.ok(find(entry.children, 'hvcC').body.equals(hevc.record));
    const opusEntry = findAll(hevcInit, 'moov/trak')[1];
    const dOps = find(opusEntry.children, 'mdia/minf/stbl/stsd/Opus/dOps').body;
    // Version 0, 2 channels, pre-skip 312, 48000 Hz, gain 0, mapping family 0
    assert.deepEqual([...dOps], [0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0]);
    assert.equal(u32(find(opusEntry.children, 'mdia/mdhd').body, 12), 48000);
    const mp3 = mp3Config(parseMp3Header(Buffer.from('fffb9064', 'hex'))!);
    const audioOnly = parseBoxes(initSegment(null, mp3));
    assert.deepEqual(find(audioOnly, 'moov').children.map((b) => b.type), ['mvhd', 'trak', 'mvex']);
    const esds = find(audioOnly, 'moov/trak/mdia/minf/stbl/stsd/mp4a/esds').body;
    assert.equal(esds[esds.indexOf(0x04, 9) + 2], 0x6b);
    assert.equal(esds.indexOf(0x05, 9), -1, 'no DecoderSpecificInfo for MP3');
  });
});

describe('media fragment', () => {
  const video = [
    { data: Buffer.from('key frame'), duration: 3600, cts: 7200, sync: true },
    { data: Buffer.from('b'), duration: 3600, cts: 0, sync: false },
  ];
  const audio = [{ data: Buffer.from('aac1'), duration: 1024, cts: 0, sync: true }, { data: Buffer.from('aac2'), duration: 1024, cts: 0, sync: true }];

  it('writes moof (mfhd, traf per track) and mdat, data offsets on the samples', () => {
    const base = 2 ** 33 + 5; // past 32 bits: tfdt must be version 1
    const bytes = mediaFragment(42, [
      { trackId: 1, baseDecodeTime: base, samples: video, hasCts: true },
      { trackId: 2, baseDecodeTime: 99, samples: audio, hasCts: false },
      { trackId: 3, baseDecodeTime: 0, samples: [], hasCts: false },
    ]);
    const boxes = parseBoxes(bytes);
    assert.deepEqual(boxes.map((b) => b.type), ['moof', 'mdat']);
    assert.equal(u32(find(boxes, 'moof/mfhd').body, 4), 42);
    const trafs = findAll(boxes, 'moof/traf');
    assert.equal(trafs.length, 2, 'a track without samples gets no traf');
    const [vt, at] = trafs;
    const tfhd = find(vt.children, 'tfhd').body;
    assert.equal(tfhd.readUIntBE(1, 3), 0x020000, 'default-base-is-moof');
    assert.equal(u32(tfhd, 4), 1);
    const tfdt = find(vt.children, 'tfdt').body;
    assert.equal(tfdt[0], 1);
    assert.equal(Number(tfdt.readBigUInt64BE(4)), base);
    assert.equal(Number(find(at.children, 'tfdt').body.readBigUInt64BE(4)), 99);
    const trun = find(vt.children, 'trun').body;
    assert.equal(trun[0], 0, 'no negative composition offset: version 0');
    assert.equal(trun.readUIntBE(1, 3), 0x000f01, 'data offset, duration, size, flags, composition offset');
    assert.equal(u32(trun, 4), 2);
    const offset = u32(trun, 8);
    assert.equal(bytes.toString('latin1', offset, offset + 9), 'key frame', 'data offset counts from the moof');
    assert.deepEqual([u32(trun, 12), u32(trun, 16), u32(trun, 20), u32(trun, 24)], [3600, 9, SYNC_SAMPLE_FLAGS, 7200]);
    assert.equal(u32(trun, 36), NON_SYNC_SAMPLE_FLAGS);
    const audioTrun = find(at.children, 'trun').body;
    assert.equal(audioTrun.readUIntBE(1, 3), 0x000701, 'audio: no composition offsets');
    const audioOffset = u32(audioTrun, 8);
    assert.equal(bytes.toString('latin1', audioOffset, audioOffset + 8), 'aac1aac2');
    assert.equal(find(boxes, 'mdat').body.toString('latin1'), 'key framebaac1aac2');
  });

  it('makes composition offsets signed (trun version 1) when one is negative', () => {
    const bytes = mediaFragment(1, [{ trackId: 1, baseDecodeTime: 0, samples: [{ ...video[0], cts: -3600 }], hasCts: true }]);
    const trun = find(parseBoxes(bytes), 'moof/traf/trun').body;
    assert.equal(trun[0], 1);
    assert.equal(trun.readInt32BE(24), -3600);
  });
});
