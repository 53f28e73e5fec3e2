import type { MediaFrame } from '../../media/MediaFrame.js';

const VIDEO_CODECS: Record<number, string> = { 2: 'H.263', 3: 'Screen', 4: 'VP6', 5: 'VP6A', 6: 'Screen2', 7: 'H.264', 12: 'HEVC' };
const AUDIO_CODECS: Record<number, string> = {
  0: 'PCM', 1: 'ADPCM', 2: 'MP3', 3: 'PCM-LE', 4: 'Nellymoser16', 5: 'Nellymoser8', 6: 'Nellymoser', 7: 'G.711A', 8: 'G.711U', 10: 'AAC', 11: 'Speex', 14: 'MP3-8k',
};
const FOURCC: Record<string, string> = { avc1: 'H.264', hvc1: 'HEVC', av01: 'AV1', vp09: 'VP9', Opus: 'Opus', mp4a: 'AAC', fLaC: 'FLAC', 'ac-3': 'AC-3', 'ec-3': 'E-AC-3', '.mp3': 'MP3' };

/** The codec of a video frame as the API names it (legacy id or Enhanced RTMP FourCC). */
export const videoCodecOf = (frame: MediaFrame | null): string | null => {
  const p = frame?.payload;
  if (p === undefined || p.length === 0) {
    return null;
  }
  if ((p[0] & 0x80) !== 0) {
    const fourcc = p.length >= 5 ? p.toString('latin1', 1, 5) : '';
    return FOURCC[fourcc] ?? fourcc;
  }
  return VIDEO_CODECS[p[0] & 0x0f] ?? `id ${p[0] & 0x0f}`;
};

export const audioCodecOf = (frame: MediaFrame | null): string | null => {
  const p = frame?.payload;
  if (p === undefined || p.length === 0) {
    return null;
  }
  const format = p[0] >> 4;
  if (format === 9) {
    const fourcc = p.length >= 5 ? p.toString('latin1', 1, 5) : '';
    return FOURCC[fourcc] ?? fourcc;
  }
  return AUDIO_CODECS[format] ?? `id ${format}`;
};
