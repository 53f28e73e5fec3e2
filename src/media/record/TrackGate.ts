import { mp3Config, parseMp3Header } from '../../http/hls/audio.js';
import { audioKey, type AudioConfig, type VideoConfig } from '../../http/hls/codecs.js';
import { parseAudio, parseVideo } from '../../http/hls/flvPayload.js';
import { TimestampUnwrapper } from '../../http/hls/Timeline.js';
import { FrameKind } from '../MediaFrame.js';

/** What a container writer gets from the gate: its tracks once, then their coded frames. */
export interface TrackSink {
  /** The file starts: these tracks (a null one is absent), media time 0 at `ms`. */
  start(video: VideoConfig | null, audio: AudioConfig | null): void;
  /** A coded video frame; `ms` counts from the start (never negative), `cts` in ms. */
  video(ms: number, cts: number, data: Buffer, keyframe: boolean): void;
  /** A coded audio frame (AAC raw, MP3, Opus packet); `ms` counts from the start. */
  audio(ms: number, data: Buffer): void;
}

/** Audio stamped up to this much before the first keyframe goes in with it. */
const AUDIO_LEAD_MS = 500;
/** Audio for this long without any video: the file is audio-only. */
const AUDIO_ONLY_AFTER_MS = 1000;
const MAX_PENDING_AUDIO = 256;

/**
 * Where a container with a fixed set of tracks (MP4, MPEG-TS) starts, from FLV tag bodies: at
 * the first video keyframe after a video configuration, with the audio track if its
 * configuration is known then (and the audio from half a second before the keyframe on); or,
 * when a second of audio came without any video, audio-only. The tracks are those of the
 * start: a track that appears later is left out, frames of another codec are skipped, and a
 * changed configuration is not followed. Timestamps go through one unwrapper (32-bit wrap,
 * clock resets) and count from the start.
 */
export class TrackGate {
  private readonly clock = new TimestampUnwrapper();
  private video: VideoConfig | null = null;
  private audio: AudioConfig | null = null;
  private sawVideo = false;
  private pendingAudio: { ms: number; data: Buffer }[] = [];
  private tracks: { video: VideoConfig | null; audio: AudioConfig | null } | null = null;
  private origin = 0;

  constructor(private readonly sink: TrackSink) {}

  /** The tracks of the file, null before it started. */
  get started(): { video: VideoConfig | null; audio: AudioConfig | null } | null {
    return this.tracks;
  }

  push(kind: FrameKind, timestamp: number, payload: Buffer): void {
    if (kind === FrameKind.VIDEO) {
      this.onVideo(payload, this.clock.unwrap(timestamp));
    } else if (kind === FrameKind.AUDIO) {
      this.onAudio(payload, this.clock.unwrap(timestamp));
    }
  }

  private onVideo(payload: Buffer, ms: number): void {
    this.sawVideo = true;
    const packet = parseVideo(payload);
    if (packet.type === 'config') {
      if (this.tracks === null) {
        this.video = packet.config;
      }
      return;
    }
    const video = this.tracks === null ? this.video : this.tracks.video;
    if (packet.type !== 'frame' || video === null || video.codec !== packet.codec) {
      return;
    }
    if (this.tracks === null) {
      if (!packet.keyframe) {
        return;
      }
      const lead = this.pendingAudio.filter((p) => p.ms >= ms - AUDIO_LEAD_MS);
      this.pendingAudio = [];
      this.start(Math.min(ms, lead[0]?.ms ?? ms), video, this.audio);
      // The keyframe first: it opens the file's first fragment, which the audio then joins.
      this.sink.video(ms - this.origin, packet.cts, packet.data, true);
      for (const p of lead) {
        this.sink.audio(p.ms - this.origin, p.data);
      }
      return;
    }
    this.sink.video(Math.max(0, ms - this.origin), packet.cts, packet.data, packet.keyframe);
  }

  private onAudio(payload: Buffer, ms: number): void {
    const packet = parseAudio(payload);
    if (packet.type === 'config') {
      if (this.tracks === null && audioKey(packet.config) !== audioKey(this.audio)) {
        this.audio = packet.config;
        this.pendingAudio = [];
      }
      return;
    }
    if (packet.type !== 'frame') {
      return;
    }
    if (packet.codec === 'mp3' && this.tracks === null && this.audio === null) {
      // MP3 has no sequence header: its configuration is in every frame header.
      const header = parseMp3Header(packet.data);
      if (header !== null) {
        this.audio = mp3Config(header);
      }
    }
    const audio = this.tracks === null ? this.audio : this.tracks.audio;
    if (audio === null || audio.codec !== packet.codec) {
      return;
    }
    if (this.tracks !== null) {
      if (ms >= this.origin) {
        this.sink.audio(ms - this.origin, packet.data);
      }
      return;
    }
    const pending = this.pendingAudio;
    pending.push({ ms, data: packet.data });
    if (this.sawVideo) {
      while (pending.length > MAX_PENDING_AUDIO || ms - pending[0].ms > AUDIO_ONLY_AFTER_MS) {
        pending.shift();
      }
      return;
    }
    if (ms - pending[0].ms >= AUDIO_ONLY_AFTER_MS || pending.length >= MAX_PENDING_AUDIO) {
      this.pendingAudio = [];
      this.start(pending[0].ms, null, audio);
      for (const p of pending) {
        this.sink.audio(p.ms - this.origin, p.data);
      }
    }
  }

  private start(ms: number, video: VideoConfig | null, audio: AudioConfig | null): void {
    this.tracks = { video, audio };
    this.origin = ms;
    this.sink.start(video, audio);
  }
}
