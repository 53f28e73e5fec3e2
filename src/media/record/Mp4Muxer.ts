import { mp3Samples, opusPacketSamples } from '../../http/hls/audio.js';
import type { AudioConfig, VideoConfig } from '../../http/hls/codecs.js';
import { initSegment } from '../../http/hls/initSegment.js';
import { Segmenter } from '../../http/hls/Segmenter.js';
import { AudioClock } from '../../http/hls/Timeline.js';
import type { FrameKind } from '../MediaFrame.js';
import type { MediaMuxer } from './MediaMuxer.js';
import { TrackGate, type TrackSink } from './TrackGate.js';

/**
 * A fragmented MP4 file (ISO 14496-12 with movie fragments, as CMAF), written with the HLS
 * writer's boxes: the init segment (`ftyp`, `moov`) when the file starts (TrackGate), then one
 * fragment (`moof` + `mdat`) about every `fragmentSeconds`, cut at keyframes. Video is timed at
 * 90 kHz, audio by sample count at its own rate. Codecs: H.264, HEVC, AAC, MP3, Opus.
 */
export class Mp4Muxer implements MediaMuxer, TrackSink {
  readonly format = 'mp4';
  private readonly gate = new TrackGate(this);
  private readonly segmenter: Segmenter;
  private audioTrack: AudioConfig | null = null;
  private audioClock: AudioClock | null = null;
  /** Where the init segment and fragments go during a `write` or `end`. */
  private out: Buffer[] = [];

  constructor(fragmentSeconds = 1) {
    this.segmenter = new Segmenter(
      { segmentDuration: fragmentSeconds, partDuration: 0, maxSegmentDuration: Math.max(10, 3 * fragmentSeconds), maxSegmentBytes: 16 * 1024 * 1024 },
      {
        part: () => undefined,
        segment: (segment) => {
          if (segment.data !== null) {
            this.out.push(segment.data);
          }
        },
      },
    );
  }

  write(kind: FrameKind, timestamp: number, payload: Buffer, out: Buffer[]): void {
    this.out = out;
    this.gate.push(kind, timestamp, payload);
  }

  end(out: Buffer[]): void {
    this.out = out;
    this.segmenter.flush();
  }

  // TrackSink
  start(video: VideoConfig | null, audio: AudioConfig | null): void {
    this.audioTrack = audio;
    this.audioClock = audio === null ? null : new AudioClock(audio.sampleRate);
    this.out.push(initSegment(video, audio));
    this.segmenter.setRendition({ gen: 0, hasVideo: video !== null, audioTimescale: audio?.sampleRate ?? 0 }, false);
  }

  video(ms: number, cts: number, data: Buffer, keyframe: boolean): void {
    this.segmenter.pushVideo(Math.round(ms * 90), cts * 90, data, keyframe);
  }

  audio(ms: number, data: Buffer): void {
    const audio = this.audioTrack;
    const clock = this.audioClock;
    if (audio === null || clock === null) {
      return;
    }
    const samples = audio.codec === 'Opus' ? opusPacketSamples(data) : audio.codec === 'mp3' ? mp3Samples(data) : audio.frameSamples;
    const duration = samples > 0 ? samples : audio.frameSamples;
    this.segmenter.pushAudio(clock.place(ms, duration), duration, data);
  }
}
