/**
 * One publication as HLS: an output of its media feed that parses FLV payloads, keeps the
 * decoder configurations, maps timestamps to the fMP4 track clocks and hands samples to the
 * Segmenter; it keeps a sliding window of segments in memory and serves the playlist, the init
 * segments, segments and parts by file name, and the LL-HLS blocking reload (`waitFor`).
 *
 * Renditions: the first segment starts at the first video keyframe after a video sequence
 * header (earlier video is dropped, earlier audio too but for its last half second), with the
 * audio track if its configuration is known then.
 * A stream whose first second of audio comes without any video is audio-only. A changed
 * configuration (or a track appearing) takes effect at the next keyframe with a new init
 * segment and a discontinuity; a new publisher gets a discontinuity, and a new init segment only
 * if its configuration differs. An unsupported video codec makes the stream unservable (no
 * playlist); an unsupported audio codec next to supported video leaves a video-only stream.
 */
import { FrameKind, type MediaFrame } from '../../media/MediaFrame.js';
import type { MediaOutput } from '../../media/MediaOutput.js';
import { mp3Config, mp3Samples, opusPacketSamples, parseMp3Header } from './audio.js';
import { audioKey, videoKey, type AudioConfig, type VideoConfig } from './codecs.js';
import { parseAudio, parseVideo, type AudioPacket, type VideoPacket } from './flvPayload.js';
import { HlsWindow } from './HlsWindow.js';
import { initSegment } from './initSegment.js';
import { renderMasterPlaylist, renderMediaPlaylist, type VariantInfo } from './playlist.js';
import { Segmenter } from './Segmenter.js';
import { AudioClock, TimestampUnwrapper } from './Timeline.js';

export interface HlsOptions {
  /** Seconds of media per segment (cut at the first keyframe after it). */
  segmentDuration: number;
  /** Segments kept and listed. */
  windowSize: number;
  /** Seconds per LL-HLS part; 0 = no parts. */
  partDuration: number;
  /** A segment is cut (even without a keyframe) past this size; default 16 MiB. */
  maxSegmentBytes?: number;
  /**
   * Seconds after which a segment is cut even without a keyframe (then not independent); default
   * the larger of 3 segment durations and 12 s, so common long GOPs (x264's 250 frames is 10 s
   * at 25 fps) still get keyframe-aligned segments, only a stream without keyframes does not.
   */
  maxSegmentDuration?: number;
  /** The oldest segments go once the window holds more; default 96 MiB. */
  maxWindowBytes?: number;
}

/** What the audio-only decision waits for: this much audio and no video at all. */
const AUDIO_ONLY_AFTER_MS = 1000;
/**
 * Audio stamped up to this much before the first keyframe still goes in (an encoder's priming
 * delay often puts the first audio frame there: ffmpeg's AAC, 23 ms): the video starts at the
 * keyframe, the audio track a little earlier.
 */
const AUDIO_LEAD_MS = 500;
const MAX_PENDING_AUDIO = 256;

interface ActiveRendition {
  gen: number;
  video: VideoConfig | null;
  audio: AudioConfig | null;
  key: string;
}

export class HlsStream implements MediaOutput {
  private readonly options: Required<HlsOptions>;
  private readonly window: HlsWindow;
  private readonly segmenter: Segmenter;
  private readonly clock = new TimestampUnwrapper();
  private video: VideoConfig | null = null;
  private audio: AudioConfig | null = null;
  private unsupported: string | null = null;
  private sawVideo = false;
  private pendingAudio: { ms: number; data: Buffer }[] = [];
  private active: ActiveRendition | null = null;
  /** Timeline ms of the run's first sample, and the media ms it maps to. */
  private origin = { timeline: 0, media: 0 };
  private audioClock: AudioClock | null = null;
  private closed = false;
  /** Frames whose handling threw (a bug, never the publisher's bytes): counted, then skipped. */
  errors = 0;

  constructor(
    readonly baseName: string,
    options: HlsOptions,
  ) {
    const segmentDuration = Math.max(0.1, options.segmentDuration);
    this.options = {
      segmentDuration,
      windowSize: Math.max(1, Math.floor(options.windowSize)),
      partDuration: Math.max(0, Math.min(options.partDuration, segmentDuration)),
      maxSegmentBytes: options.maxSegmentBytes ?? 16 * 1024 * 1024,
      maxSegmentDuration: Math.max(segmentDuration, options.maxSegmentDuration ?? Math.max(3 * segmentDuration, 12)),
      maxWindowBytes: options.maxWindowBytes ?? 96 * 1024 * 1024,
    };
    this.window = new HlsWindow(baseName, this.options, () => this.segmenter.current);
    this.segmenter = new Segmenter(
      {
        segmentDuration,
        partDuration: this.options.partDuration,
        maxSegmentDuration: this.options.maxSegmentDuration,
        maxSegmentBytes: this.options.maxSegmentBytes,
      },
      {
        part: () => this.window.changed(),
        segment: (s) => this.window.add(s, this.active?.gen ?? -1),
      },
    );
  }

  /** Why the stream cannot be served (an unsupported codec), or null. */
  get unsupportedCodec(): string | null {
    return this.unsupported;
  }

  writeFrame(frame: MediaFrame): void {
    if (this.closed || frame.kind === FrameKind.DATA) {
      return;
    }
    try {
      const ms = this.clock.unwrap(frame.timestamp);
      if (frame.kind === FrameKind.VIDEO) {
        this.onVideo(parseVideo(frame.payload), ms);
      } else if (frame.kind === FrameKind.AUDIO) {
        this.onAudio(parseAudio(frame.payload), ms);
      }
    } catch {
      this.errors++;
    }
  }

  onPublishing(running: boolean): void {
    if (this.closed) {
      return;
    }
    // Either way the running segment is complete: a new publisher starts a new one.
    this.segmenter.flush();
    this.active = null;
    this.clock.reset();
    this.pendingAudio = [];
    this.audioClock = null;
    if (running) {
      this.video = null;
      this.audio = null;
      this.unsupported = null;
      this.sawVideo = false;
    }
    this.window.changed();
  }

  /** The media playlist, null until a segment is complete (or while the codecs are unsupported). */
  playlist(): string | null {
    const segments = this.window.segments;
    if (this.closed || this.unsupported !== null || segments.length === 0) {
      return null;
    }
    const parts = this.options.partDuration > 0;
    const current = this.segmenter.current;
    return renderMediaPlaylist({
      targetDuration: this.window.targetDuration,
      partTarget: this.options.partDuration,
      discontinuitiesRemoved: this.window.discontinuitiesRemoved,
      segments,
      current: parts ? current : null,
      nextSequence: this.segmenter.nextSequence,
      initUri: (gen) => this.window.initName(gen),
      segmentUri: (seq) => `${this.baseName}.${seq}.m4s`,
      partUri: (seq, part) => `${this.baseName}.${seq}.${part}.m4s`,
    });
  }

  /** `<base>.init.mp4` (and `<base>.init.<n>.mp4` after a change), `<base>.<seq>.m4s`, `<base>.<seq>.<part>.m4s`. */
  resource(fileName: string): Buffer | null {
    if (this.closed || this.unsupported !== null) {
      return null;
    }
    return this.window.resource(fileName);
  }

  /** The CODECS attribute of the stream (`avc1.64001f,mp4a.40.2`), null if none can be given. */
  masterCodecs(): string | null {
    return this.variant()?.codecs ?? null;
  }

  /** CODECS, RESOLUTION and BANDWIDTH of the stream, null before the first segment. */
  variant(): VariantInfo | null {
    if (this.closed || this.unsupported !== null) {
      return null;
    }
    const rendition = this.active ?? this.window.latestRendition();
    const stats = this.window.bandwidth();
    if (rendition === null || stats === null) {
      return null;
    }
    const codecs = [rendition.video?.codecs, rendition.audio?.codecs].filter((c): c is string => c !== undefined).join(',');
    return { codecs, width: rendition.video?.width ?? 0, height: rendition.video?.height ?? 0, ...stats };
  }

  /** A master playlist pointing at `mediaUri` (default `<base>.m3u8`), null before the first segment. */
  masterPlaylist(mediaUri = `${this.baseName}.m3u8`): string | null {
    const variant = this.variant();
    return variant === null ? null : renderMasterPlaylist(variant, mediaUri);
  }

  /**
   * LL-HLS blocking playlist reload (`_HLS_msn`, `_HLS_part`): true once segment `msn` is
   * complete (or, with `part`, that part of it exists), false after `timeoutMs` (default three
   * target durations), on close, or at once when `msn` is more than two segments ahead of the
   * playlist (the request is then a Bad Request).
   */
  waitFor(msn: number, part?: number, timeoutMs = 3000 * this.options.segmentDuration): Promise<boolean> {
    if (this.closed) {
      return Promise.resolve(false);
    }
    return this.window.waitFor(msn, this.options.partDuration > 0 ? part : undefined, timeoutMs);
  }

  /** Calls `listener` after each new part or segment (and publisher change); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    return this.window.onChange(listener);
  }

  /** Drops the window and resolves every waiter with false; the stream serves nothing afterwards. */
  close(): void {
    this.closed = true;
    this.window.close();
    this.pendingAudio = [];
    this.active = null;
  }

  private onVideo(packet: VideoPacket, ms: number): void {
    this.sawVideo = true;
    if (packet.type === 'unsupported') {
      this.setUnsupported(packet.codec);
      return;
    }
    if (packet.type === 'config') {
      this.video = packet.config;
      return;
    }
    const video = this.video;
    if (packet.type !== 'frame' || this.unsupported !== null || video === null || video.codec !== packet.codec) {
      return;
    }
    const active = this.active;
    const wanted = `${videoKey(video)}|${audioKey(this.audio)}`;
    if (active === null || active.key !== wanted) {
      if (packet.keyframe) {
        const lead = active === null ? this.pendingAudio.find((p) => p.ms >= ms - AUDIO_LEAD_MS) : undefined;
        this.startRendition(Math.min(ms, lead?.ms ?? ms));
      } else if (active === null || active.video === null || videoKey(active.video) !== videoKey(video)) {
        return; // a new video configuration: nothing to decode until its keyframe
      }
    }
    const media = this.mediaMs(ms);
    this.segmenter.pushVideo(Math.max(0, Math.round(media * 90)), packet.cts * 90, packet.data, packet.keyframe);
    if (active === null) {
      // Audio that came before the first keyframe: from AUDIO_LEAD_MS before it on, it goes in.
      const pending = this.pendingAudio;
      this.pendingAudio = [];
      for (const p of pending) {
        this.pushAudio(p.ms, p.data);
      }
    }
  }

  private onAudio(packet: AudioPacket, ms: number): void {
    if (packet.type === 'unsupported') {
      if (!this.sawVideo) {
        this.setUnsupported(packet.codec);
      }
      return;
    }
    if (packet.type === 'config') {
      this.setAudio(packet.config);
      return;
    }
    if (packet.type !== 'frame' || this.unsupported !== null) {
      return;
    }
    if (packet.codec === 'mp3') {
      // MP3 has no sequence header: its configuration is in every frame header.
      const header = parseMp3Header(packet.data);
      if (header === null) {
        return;
      }
      this.setAudio(mp3Config(header));
    }
    const audio = this.audio;
    if (audio === null || audio.codec !== packet.codec) {
      return;
    }
    const active = this.active;
    if (active === null) {
      if (this.sawVideo) {
        this.keepForKeyframe(ms, packet.data);
      } else {
        this.waitForAudioOnly(ms, packet.data);
      }
      return;
    }
    if (audioKey(active.audio) !== audioKey(audio)) {
      if (active.video !== null || this.video !== null) {
        return; // the new audio configuration comes in at the next keyframe
      }
      this.startRendition(ms);
    }
    this.pushAudio(ms, packet.data);
  }

  private setAudio(config: AudioConfig): void {
    if (audioKey(config) !== audioKey(this.audio)) {
      this.audio = config;
      this.pendingAudio = []; // frames of another configuration
    }
  }

  /**
   * Audio while video waits for its first keyframe: the last second of it is kept, since a
   * publisher may send the audio stamped like the keyframe just before it.
   */
  private keepForKeyframe(ms: number, data: Buffer): void {
    const pending = this.pendingAudio;
    pending.push({ ms, data });
    while (pending.length > MAX_PENDING_AUDIO || ms - pending[0].ms > AUDIO_ONLY_AFTER_MS) {
      pending.shift();
    }
  }

  /** Audio with no video yet: after a second of it, the stream is audio-only. */
  private waitForAudioOnly(ms: number, data: Buffer): void {
    const pending = this.pendingAudio;
    pending.push({ ms, data });
    if (ms - pending[0].ms < AUDIO_ONLY_AFTER_MS && pending.length < MAX_PENDING_AUDIO) {
      return;
    }
    this.pendingAudio = [];
    this.startRendition(pending[0].ms);
    for (const p of pending) {
      this.pushAudio(p.ms, p.data);
    }
  }

  private pushAudio(ms: number, data: Buffer): void {
    const audio = this.active?.audio;
    const clock = this.audioClock;
    if (audio === null || audio === undefined || clock === null) {
      return;
    }
    const media = this.mediaMs(ms);
    if (media < 0) {
      return; // before the run's start
    }
    const samples = audio.codec === 'Opus' ? opusPacketSamples(data) : audio.codec === 'mp3' ? mp3Samples(data) : audio.frameSamples;
    const duration = samples > 0 ? samples : audio.frameSamples;
    this.segmenter.pushAudio(clock.place(media, duration), duration, data);
  }

  /**
   * Starts writing fragments for the current configurations, at the sample stamped `ms`: a new
   * run (first segment, or a new publisher) maps `ms` to where the media so far ends.
   */
  private startRendition(ms: number): void {
    const video = this.video;
    const audio = this.audio;
    const init = initSegment(video, audio);
    const gen = this.window.addInit(init, video, audio);
    const newRun = this.active === null;
    if (newRun) {
      const media = Math.ceil(this.segmenter.endTime * 1000);
      this.origin = { timeline: ms, media };
      this.segmenter.anchor(Date.now(), media / 1000);
    }
    if (newRun || audioKey(this.active?.audio ?? null) !== audioKey(audio)) {
      this.audioClock = audio === null ? null : new AudioClock(audio.sampleRate);
    }
    const discontinuity = !newRun || this.window.segments.length > 0 || this.segmenter.nextSequence > 0;
    this.segmenter.setRendition({ gen, hasVideo: video !== null, audioTimescale: audio?.sampleRate ?? 0 }, discontinuity);
    this.active = { gen, video, audio, key: `${videoKey(video)}|${audioKey(audio)}` };
  }

  private mediaMs(ms: number): number {
    return ms - this.origin.timeline + this.origin.media;
  }

  private setUnsupported(codec: string): void {
    if (this.unsupported === null) {
      this.unsupported = codec;
      this.segmenter.flush();
      this.active = null;
      this.window.changed();
    }
  }
}
