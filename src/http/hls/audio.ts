/**
 * Audio configurations: AAC AudioSpecificConfig (ISO 14496-3 1.6.2.1), the Opus ID header
 * (RFC 7845 5.1) and MP3 frame headers (ISO 11172-3 2.4.1.3), plus the frame durations that
 * time each sample exactly in the track's own sample-rate timescale (FLV's millisecond
 * timestamps would make 44.1 kHz AAC durations jitter by a sample or two).
 */
import { BitReader } from './BitReader.js';
import type { AudioConfig, OpusParams } from './codecs.js';

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
/** General Audio object types, whose GASpecificConfig starts with frameLengthFlag (960 samples). */
const GA_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);

const objectType = (r: BitReader): number => {
  const aot = r.u(5);
  return aot === 31 ? 32 + r.u(6) : aot;
};

const samplingFrequency = (r: BitReader): number => {
  const index = r.u(4);
  const rate = index === 15 ? r.u(24) : AAC_RATES[index];
  if (rate === undefined || rate === 0) {
    throw new RangeError('invalid AAC sampling frequency');
  }
  return rate;
};

/**
 * Parses an AudioSpecificConfig. With explicit SBR (HE-AAC, object type 5/29) the first rate is
 * the core rate: a raw frame holds 1024 core samples, so that rate is the right timescale.
 */
export const parseAacConfig = (asc: Buffer): AudioConfig => {
  if (asc.length < 2) {
    throw new RangeError('AudioSpecificConfig truncated');
  }
  const r = new BitReader(asc);
  const aot = objectType(r);
  if (aot === 0) {
    throw new RangeError('invalid AAC object type');
  }
  const sampleRate = samplingFrequency(r);
  const channelConfig = r.u(4);
  let coreType = aot;
  if (aot === 5 || aot === 29) {
    samplingFrequency(r); // extension (SBR output) rate
    coreType = objectType(r);
  }
  let frameSamples = 1024;
  if (GA_TYPES.has(coreType) && r.remaining > 0 && r.flag()) {
    frameSamples = 960;
  }
  return {
    codec: 'mp4a',
    sampleRate,
    // 0 means a program_config_element says; stereo is the safe guess for the sample entry.
    channels: channelConfig === 0 ? 2 : channelConfig === 7 ? 8 : Math.min(channelConfig, 8),
    codecs: `mp4a.40.${aot}`,
    frameSamples,
    objectType: 0x40,
    specificConfig: asc,
    opus: null,
  };
};

const OPUS_MAGIC = Buffer.from('OpusHead', 'latin1');
const OPUS_RATE = 48000;

const opusConfig = (opus: OpusParams): AudioConfig => ({
  codec: 'Opus',
  sampleRate: OPUS_RATE,
  channels: opus.channels,
  codecs: 'opus',
  frameSamples: 960,
  objectType: 0,
  specificConfig: Buffer.alloc(0),
  opus,
});

/**
 * Parses an Opus ID header ("OpusHead", little-endian fields), what E-RTMP's Opus sequence start
 * carries. An empty one (some publishers send none) means the common stereo default.
 */
export const parseOpusHead = (head: Buffer): AudioConfig => {
  if (head.length === 0) {
    return opusConfig({ channels: 2, preSkip: 0, inputSampleRate: OPUS_RATE, outputGain: 0, mappingFamily: 0, mappingTable: Buffer.alloc(0) });
  }
  if (head.length < 19 || !head.subarray(0, 8).equals(OPUS_MAGIC) || head[8] >> 4 !== 0) {
    throw new RangeError('not an Opus ID header');
  }
  const channels = head[9];
  const mappingFamily = head[18];
  if (channels === 0 || (mappingFamily === 0 && channels > 2)) {
    throw new RangeError('invalid Opus channel count');
  }
  let mappingTable: Buffer = Buffer.alloc(0);
  if (mappingFamily !== 0) {
    if (head.length < 21 + channels) {
      throw new RangeError('Opus channel mapping truncated');
    }
    mappingTable = head.subarray(19, 21 + channels);
  }
  return opusConfig({
    channels,
    preSkip: head.readUInt16LE(10),
    inputSampleRate: head.readUInt32LE(12),
    outputGain: head.readInt16LE(16),
    mappingFamily,
    mappingTable,
  });
};

/** Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 3.1); 0 if invalid. */
export const opusPacketSamples = (packet: Buffer): number => {
  if (packet.length === 0) {
    return 0;
  }
  const toc = packet[0];
  const config = toc >> 3;
  const frame = config < 12 ? [480, 960, 1920, 2880][config & 3] : config < 16 ? [480, 960][config & 1] : [120, 240, 480, 960][config & 3];
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : packet.length > 1 ? packet[1] & 0x3f : 0;
  const samples = frames * frame;
  // RFC 6716 R5: a packet holds at most 120 ms.
  return samples <= 5760 ? samples : 0;
};

export interface Mp3Header {
  /** 1 = MPEG-1, 2 = MPEG-2, 2.5 = MPEG-2.5 */
  version: number;
  layer: number;
  sampleRate: number;
  channels: number;
  samples: number;
  /** Frame size in bytes, 0 for free-format streams (no bitrate in the header). */
  frameBytes: number;
}

const MP3_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
const MP3_BITRATES = {
  v1l1: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  v1l2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  v1l3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2l1: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  v2l23: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

/** The MPEG audio frame header at `offset`, or null if there is none. */
export const parseMp3Header = (data: Buffer, offset = 0): Mp3Header | null => {
  if (offset + 4 > data.length) {
    return null;
  }
  const h = data.readUInt32BE(offset);
  const versionBits = (h >>> 19) & 3;
  const layerBits = (h >>> 17) & 3;
  const bitrateIndex = (h >>> 12) & 15;
  const rateIndex = (h >>> 10) & 3;
  if (h >>> 21 !== 0x7ff || versionBits === 1 || layerBits === 0 || bitrateIndex === 15 || rateIndex === 3) {
    return null;
  }
  const layer = 4 - layerBits;
  const mpeg1 = versionBits === 3;
  const sampleRate = MP3_RATES[versionBits][rateIndex];
  const samples = layer === 1 ? 384 : layer === 3 && !mpeg1 ? 576 : 1152;
  const table = mpeg1 ? (layer === 1 ? MP3_BITRATES.v1l1 : layer === 2 ? MP3_BITRATES.v1l2 : MP3_BITRATES.v1l3) : layer === 1 ? MP3_BITRATES.v2l1 : MP3_BITRATES.v2l23;
  const bitrate = table[bitrateIndex] * 1000;
  const padding = (h >>> 9) & 1;
  const frameBytes = bitrate === 0 ? 0 : layer === 1 ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4 : Math.floor(((samples / 8) * bitrate) / sampleRate) + padding;
  return {
    version: mpeg1 ? 1 : versionBits === 2 ? 2 : 2.5,
    layer,
    sampleRate,
    channels: ((h >>> 6) & 3) === 3 ? 1 : 2,
    samples,
    frameBytes,
  };
};

/** Samples in an FLV MP3 payload (one or more whole frames); 0 if it does not start with one. */
export const mp3Samples = (data: Buffer): number => {
  let offset = 0;
  let samples = 0;
  while (offset < data.length) {
    const header = parseMp3Header(data, offset);
    if (header === null) {
      break;
    }
    samples += header.samples;
    if (header.frameBytes === 0) {
      break; // free format: the frame size is unknown, count one frame
    }
    offset += header.frameBytes;
  }
  return samples;
};

/** MP3 in ISO BMFF: an `mp4a` entry with an MPEG-1/2 audio objectTypeIndication, no specific config. */
export const mp3Config = (h: Mp3Header): AudioConfig => ({
  codec: 'mp3',
  sampleRate: h.sampleRate,
  channels: h.channels,
  // What Apple's HLS authoring spec and hls.js expect for MP3 in fMP4.
  codecs: 'mp4a.40.34',
  frameSamples: h.samples,
  objectType: h.version === 1 ? 0x6b : 0x69,
  specificConfig: Buffer.alloc(0),
  opus: null,
});
