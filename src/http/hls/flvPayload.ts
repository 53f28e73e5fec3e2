/**
 * FLV tag bodies, as RTMP carries them, to what the segmenter needs: a parsed configuration, a
 * coded frame (with its composition offset) or a reason to skip the tag. Legacy FLV (AVC codec 7,
 * HEVC codec 12 as Chinese CDNs extended it, AAC sound format 10, MP3) and Enhanced RTMP (FourCC
 * video and audio headers, ModEx prefixes) both land here. Nothing throws: a publisher's bytes
 * are untrusted, so a bad configuration is `invalid` and a foreign codec `unsupported`.
 */
import { parseAacConfig, parseOpusHead } from './audio.js';
import { parseAvcRecord } from './avc.js';
import type { AudioConfig, VideoConfig } from './codecs.js';
import { parseHevcRecord } from './hevc.js';

export type VideoPacket =
  | { type: 'config'; config: VideoConfig }
  | { type: 'frame'; codec: VideoConfig['codec']; data: Buffer; /** ms */ cts: number; keyframe: boolean }
  | { type: 'ignore' }
  | { type: 'unsupported'; codec: string }
  | { type: 'invalid'; reason: string };

export type AudioPacket =
  | { type: 'config'; config: AudioConfig }
  | { type: 'frame'; codec: AudioConfig['codec']; data: Buffer }
  | { type: 'ignore' }
  | { type: 'unsupported'; codec: string }
  | { type: 'invalid'; reason: string };

const IGNORE = { type: 'ignore' } as const;
const LEGACY_AVC = 7;
const LEGACY_HEVC = 12;
const COMMAND_FRAME = 5;
const EX_MODEX = 7;
const EX_MULTITRACK_VIDEO = 6;
const EX_MULTITRACK_AUDIO = 5;

const invalid = (reason: string): { type: 'invalid'; reason: string } => ({ type: 'invalid', reason });

const parseRecord = (codec: VideoConfig['codec'], record: Buffer): VideoPacket => {
  try {
    return { type: 'config', config: codec === 'avc1' ? parseAvcRecord(record) : parseHevcRecord(record) };
  } catch (err) {
    return invalid(`${codec} sequence header: ${(err as Error).message}`);
  }
};

/**
 * Skips E-RTMP ModEx prefixes (a sized modifier, then the real packet type in the low nibble of
 * the next byte): returns the packet type and where the FourCC starts, or null if truncated.
 */
const skipModEx = (p: Buffer, packetType: number): { packetType: number; offset: number } | null => {
  let offset = 1;
  while (packetType === EX_MODEX) {
    if (offset >= p.length) {
      return null;
    }
    let size = p[offset++] + 1;
    if (size === 256) {
      if (offset + 2 > p.length) {
        return null;
      }
      size = p.readUInt16BE(offset) + 1;
      offset += 2;
    }
    offset += size;
    if (offset >= p.length) {
      return null;
    }
    packetType = p[offset++] & 0x0f;
  }
  return { packetType, offset };
};

const parseEnhancedVideo = (p: Buffer): VideoPacket => {
  const frameType = (p[0] >> 4) & 0x07;
  const ex = skipModEx(p, p[0] & 0x0f);
  if (ex === null || ex.offset + 4 > p.length) {
    return invalid('truncated enhanced video header');
  }
  if (ex.packetType === EX_MULTITRACK_VIDEO) {
    return { type: 'unsupported', codec: 'multitrack video' };
  }
  if (frameType === COMMAND_FRAME) {
    return IGNORE;
  }
  const fourCc = p.toString('latin1', ex.offset, ex.offset + 4);
  if (fourCc !== 'avc1' && fourCc !== 'hvc1') {
    return { type: 'unsupported', codec: fourCc };
  }
  let offset = ex.offset + 4;
  switch (ex.packetType) {
    case 0: // SequenceStart
      return parseRecord(fourCc, p.subarray(offset));
    case 1: {
      // CodedFrames: SI24 composition time, then the NAL units.
      if (offset + 3 > p.length) {
        return invalid('truncated coded frame');
      }
      const cts = p.readIntBE(offset, 3);
      offset += 3;
      return offset < p.length ? { type: 'frame', codec: fourCc, data: p.subarray(offset), cts, keyframe: frameType === 1 } : IGNORE;
    }
    case 3: // CodedFramesX: composition time 0
      return offset < p.length ? { type: 'frame', codec: fourCc, data: p.subarray(offset), cts: 0, keyframe: frameType === 1 } : IGNORE;
    case 2: // SequenceEnd
    case 4: // Metadata (HDR colour info)
    case 5: // MPEG2TSSequenceStart
      return IGNORE;
    default:
      return invalid(`enhanced video packet type ${ex.packetType}`);
  }
};

/** Parses a video tag body (FrameKind.VIDEO). */
export const parseVideo = (p: Buffer): VideoPacket => {
  if (p.length === 0) {
    return IGNORE;
  }
  if ((p[0] & 0x80) !== 0) {
    return parseEnhancedVideo(p);
  }
  const frameType = p[0] >> 4;
  const codecId = p[0] & 0x0f;
  if (frameType === COMMAND_FRAME) {
    return IGNORE;
  }
  if (codecId !== LEGACY_AVC && codecId !== LEGACY_HEVC) {
    return { type: 'unsupported', codec: `flv video codec ${codecId}` };
  }
  const codec = codecId === LEGACY_AVC ? 'avc1' : 'hvc1';
  if (p.length < 5) {
    return invalid('truncated AVC/HEVC header');
  }
  switch (p[1]) {
    case 0:
      return parseRecord(codec, p.subarray(5));
    case 1:
      return p.length > 5 ? { type: 'frame', codec, data: p.subarray(5), cts: p.readIntBE(2, 3), keyframe: frameType === 1 } : IGNORE;
    case 2: // end of sequence
      return IGNORE;
    default:
      return invalid(`AVC packet type ${p[1]}`);
  }
};

const parseAudioConfig = (codec: 'mp4a' | 'Opus', body: Buffer): AudioPacket => {
  try {
    return { type: 'config', config: codec === 'mp4a' ? parseAacConfig(body) : parseOpusHead(body) };
  } catch (err) {
    return invalid(`${codec} sequence header: ${(err as Error).message}`);
  }
};

const parseEnhancedAudio = (p: Buffer): AudioPacket => {
  const ex = skipModEx(p, p[0] & 0x0f);
  if (ex === null || ex.offset + 4 > p.length) {
    return invalid('truncated enhanced audio header');
  }
  if (ex.packetType === EX_MULTITRACK_AUDIO) {
    return { type: 'unsupported', codec: 'multitrack audio' };
  }
  const fourCc = p.toString('latin1', ex.offset, ex.offset + 4);
  const codec = fourCc === 'Opus' ? 'Opus' : fourCc === 'mp4a' ? 'mp4a' : fourCc === '.mp3' ? 'mp3' : null;
  if (codec === null) {
    return { type: 'unsupported', codec: fourCc };
  }
  const body = p.subarray(ex.offset + 4);
  switch (ex.packetType) {
    case 0: // SequenceStart
      return codec === 'mp3' ? IGNORE : parseAudioConfig(codec, body);
    case 1: // CodedFrames
      return body.length > 0 ? { type: 'frame', codec, data: body } : IGNORE;
    case 2: // SequenceEnd
    case 4: // MultichannelConfig: the sequence start already says what the decoder needs
      return IGNORE;
    default:
      return invalid(`enhanced audio packet type ${ex.packetType}`);
  }
};

/** Parses an audio tag body (FrameKind.AUDIO). */
export const parseAudio = (p: Buffer): AudioPacket => {
  if (p.length === 0) {
    return IGNORE;
  }
  const format = p[0] >> 4;
  switch (format) {
    case 10: // AAC
      if (p.length < 2) {
        return invalid('truncated AAC header');
      }
      if (p[1] === 0) {
        return parseAudioConfig('mp4a', p.subarray(2));
      }
      if (p[1] === 1) {
        return p.length > 2 ? { type: 'frame', codec: 'mp4a', data: p.subarray(2) } : IGNORE;
      }
      return invalid(`AAC packet type ${p[1]}`);
    case 2: // MP3
    case 14: // MP3 8 kHz
      return p.length > 1 ? { type: 'frame', codec: 'mp3', data: p.subarray(1) } : IGNORE;
    case 9: // Enhanced RTMP audio (ExHeader)
      return parseEnhancedAudio(p);
    default:
      return { type: 'unsupported', codec: `flv sound format ${format}` };
  }
};
