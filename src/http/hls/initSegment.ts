/**
 * The init segment of a CMAF/fMP4 rendition (EXT-X-MAP): `ftyp` and a `moov` whose tracks have
 * empty sample tables (every sample lives in the fragments) and one sample entry each, plus
 * `mvex`/`trex` announcing that fragments follow (ISO 14496-12 8.8). Video is timed at 90 kHz
 * (FLV milliseconds are exact there), audio at its sample rate (frame durations are exact).
 */
import { BoxWriter } from './BoxWriter.js';
import type { AudioConfig, VideoConfig } from './codecs.js';

export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;
export const VIDEO_TIMESCALE = 90000;
const MOVIE_TIMESCALE = 1000;
/** Unity transformation matrix (16.16 and 2.30 fixed point). */
const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];
/** ISO 639-2 "und", packed as three 5-bit letters. */
const LANGUAGE_UND = 0x55c4;

const matrix = (w: BoxWriter): void => {
  for (const v of MATRIX) {
    w.u32(v);
  }
};

const mvhd = (w: BoxWriter, nextTrackId: number): void => {
  w.openFull('mvhd', 0, 0).u32(0).u32(0).u32(MOVIE_TIMESCALE).u32(0);
  w.u32(0x00010000).u16(0x0100).zeros(10); // rate 1.0, volume 1.0, reserved
  matrix(w);
  w.zeros(24).u32(nextTrackId).close(); // pre_defined
};

const tkhd = (w: BoxWriter, trackId: number, audio: boolean, width: number, height: number): void => {
  // flags: track enabled | in movie
  w.openFull('tkhd', 0, 3).u32(0).u32(0).u32(trackId).u32(0).u32(0);
  w.zeros(8).u16(0).u16(0).u16(audio ? 0x0100 : 0).u16(0); // layer, alternate group, volume
  matrix(w);
  w.u32(width * 0x10000).u32(height * 0x10000).close();
};

/** MPEG-4 descriptor header: tag and an expandable size (ISO 14496-1 8.3.3), minimal length. */
const descriptor = (w: BoxWriter, tag: number, size: number): void => {
  w.u8(tag);
  const groups: number[] = [];
  let rest = size;
  do {
    groups.unshift(rest & 0x7f);
    rest >>>= 7;
  } while (rest > 0);
  groups.forEach((g, i) => w.u8(i < groups.length - 1 ? g | 0x80 : g));
};

const descriptorSize = (size: number): number => 1 + (size < 0x80 ? 1 : size < 0x4000 ? 2 : size < 0x200000 ? 3 : 4) + size;

/** `esds`: ES_Descriptor > DecoderConfigDescriptor (> DecoderSpecificInfo) + SLConfigDescriptor. */
const esds = (w: BoxWriter, audio: AudioConfig): void => {
  const dsi = audio.specificConfig.length > 0 ? descriptorSize(audio.specificConfig.length) : 0;
  const decoderConfig = descriptorSize(13 + dsi);
  w.openFull('esds', 0, 0);
  descriptor(w, 0x03, 3 + decoderConfig + descriptorSize(1));
  w.u16(AUDIO_TRACK_ID).u8(0);
  descriptor(w, 0x04, 13 + dsi);
  // objectTypeIndication, streamType 5 (audio) << 2 | reserved 1, buffer size, max/avg bitrate unknown
  w.u8(audio.objectType).u8(0x15).u24(0).u32(0).u32(0);
  if (dsi > 0) {
    descriptor(w, 0x05, audio.specificConfig.length);
    w.bytes(audio.specificConfig);
  }
  descriptor(w, 0x06, 1);
  w.u8(0x02).close(); // SL predefined: MP4
};

const videoSampleEntry = (w: BoxWriter, video: VideoConfig): void => {
  w.open(video.codec).zeros(6).u16(1); // reserved, data_reference_index
  w.u16(0).u16(0).zeros(12).u16(video.width).u16(video.height);
  w.u32(0x00480000).u32(0x00480000).u32(0).u16(1); // 72 dpi, reserved, frame_count
  w.zeros(32).u16(0x0018).i16(-1); // compressorname, depth, pre_defined
  w.open(video.codec === 'avc1' ? 'avcC' : 'hvcC').bytes(video.record).close();
  w.close();
};

const audioSampleEntry = (w: BoxWriter, audio: AudioConfig): void => {
  w.open(audio.codec === 'Opus' ? 'Opus' : 'mp4a').zeros(6).u16(1);
  w.zeros(8).u16(audio.channels).u16(16).u16(0).u16(0);
  // samplerate is 16.16: a rate above 65535 Hz does not fit; 0 then, the decoder reads the config.
  w.u32(audio.sampleRate < 0x10000 ? audio.sampleRate * 0x10000 : 0);
  const opus = audio.opus;
  if (opus !== null) {
    w.open('dOps').u8(0).u8(opus.channels).u16(opus.preSkip).u32(opus.inputSampleRate).i16(opus.outputGain).u8(opus.mappingFamily);
    w.bytes(opus.mappingTable).close();
  } else {
    esds(w, audio);
  }
  w.close();
};

const trak = (w: BoxWriter, trackId: number, video: VideoConfig | null, audio: AudioConfig | null): void => {
  const isAudio = video === null;
  w.open('trak');
  tkhd(w, trackId, isAudio, video?.width ?? 0, video?.height ?? 0);
  w.open('mdia');
  w.openFull('mdhd', 0, 0).u32(0).u32(0).u32(isAudio ? (audio?.sampleRate ?? MOVIE_TIMESCALE) : VIDEO_TIMESCALE).u32(0);
  w.u16(LANGUAGE_UND).u16(0).close();
  const name = isAudio ? 'SoundHandler' : 'VideoHandler';
  w.openFull('hdlr', 0, 0).u32(0).fourCc(isAudio ? 'soun' : 'vide').zeros(12).bytes(Buffer.from(`${name}\0`, 'latin1')).close();
  w.open('minf');
  if (isAudio) {
    w.openFull('smhd', 0, 0).u16(0).u16(0).close();
  } else {
    w.openFull('vmhd', 0, 1).u16(0).zeros(6).close();
  }
  w.open('dinf').openFull('dref', 0, 0).u32(1).openFull('url ', 0, 1).close().close().close(); // self-contained
  w.open('stbl');
  w.openFull('stsd', 0, 0).u32(1);
  if (video !== null) {
    videoSampleEntry(w, video);
  } else if (audio !== null) {
    audioSampleEntry(w, audio);
  }
  w.close();
  w.openFull('stts', 0, 0).u32(0).close();
  w.openFull('stsc', 0, 0).u32(0).close();
  w.openFull('stsz', 0, 0).u32(0).u32(0).close();
  w.openFull('stco', 0, 0).u32(0).close();
  w.close().close().close().close(); // stbl, minf, mdia, trak
};

/** ftyp + moov for the tracks present (video is track 1, audio track 2, whichever exist). */
export const initSegment = (video: VideoConfig | null, audio: AudioConfig | null): Buffer => {
  const w = new BoxWriter(1024 + (video?.record.length ?? 0) + (audio?.specificConfig.length ?? 0));
  w.open('ftyp').fourCc('iso6').u32(1).fourCc('iso6').fourCc('cmfc').fourCc('isom').fourCc('mp41').close();
  w.open('moov');
  mvhd(w, AUDIO_TRACK_ID + 1);
  if (video !== null) {
    trak(w, VIDEO_TRACK_ID, video, null);
  }
  if (audio !== null) {
    trak(w, AUDIO_TRACK_ID, null, audio);
  }
  w.open('mvex');
  for (const id of [video !== null ? VIDEO_TRACK_ID : 0, audio !== null ? AUDIO_TRACK_ID : 0]) {
    if (id !== 0) {
      // trex: default sample description 1; durations, sizes and flags are given per sample.
      w.openFull('trex', 0, 0).u32(id).u32(1).u32(0).u32(0).u32(0).close();
    }
  }
  w.close().close(); // mvex, moov
  return w.finish();
};
