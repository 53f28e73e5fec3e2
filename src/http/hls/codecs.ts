/**
 * What the segmenter knows about a track once its configuration is parsed: enough to write the
 * sample entry of the init segment, to time the samples and to fill CODECS/RESOLUTION.
 * Configurations are compared by `key` so a publisher that repeats its sequence header (many
 * encoders do, on every keyframe) does not start a new init segment.
 */
export interface VideoConfig {
  codec: 'avc1' | 'hvc1';
  /** AVC/HEVC decoder configuration record, as the FLV sequence header carried it. */
  record: Buffer;
  width: number;
  height: number;
  /** RFC 6381 codec string, e.g. `avc1.64001f`. */
  codecs: string;
}

export interface OpusParams {
  channels: number;
  preSkip: number;
  inputSampleRate: number;
  outputGain: number;
  mappingFamily: number;
  /** Stream count, coupled count and channel mapping (family ≠ 0 only), as `dOps` wants them. */
  mappingTable: Buffer;
}

export interface AudioConfig {
  codec: 'mp4a' | 'Opus' | 'mp3';
  /** Samples per second; also the track's timescale, so AAC/Opus durations are exact. */
  sampleRate: number;
  channels: number;
  codecs: string;
  /** Samples in one frame when the payload does not say (AAC: 1024 or 960). */
  frameSamples: number;
  /** esds objectTypeIndication: 0x40 MPEG-4 audio, 0x6B MPEG-1 audio, 0x69 MPEG-2 audio. */
  objectType: number;
  /** AudioSpecificConfig for AAC, empty otherwise. */
  specificConfig: Buffer;
  opus: OpusParams | null;
}

/** A stable identity of a configuration: same key, same init segment. */
export const videoKey = (v: VideoConfig | null): string => (v === null ? '-' : `${v.codec}:${v.record.toString('hex')}`);

export const audioKey = (a: AudioConfig | null): string => {
  if (a === null) {
    return '-';
  }
  const opus = a.opus === null ? '' : `${a.opus.channels}/${a.opus.preSkip}/${a.opus.inputSampleRate}/${a.opus.outputGain}/${a.opus.mappingFamily}/${a.opus.mappingTable.toString('hex')}`;
  return `${a.codec}:${a.sampleRate}:${a.channels}:${a.objectType}:${a.specificConfig.toString('hex')}:${opus}`;
};
