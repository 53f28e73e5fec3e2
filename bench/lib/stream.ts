/**
 * The synthetic live stream the macro benchmarks publish: H.264-shaped video at 25 fps (a keyframe
 * every `gop` frames, much larger than the inter frames) and AAC-shaped audio at 44100/1024 frames
 * per second, sized to a target bitrate. Every frame carries a sequence number (per track) and the
 * wall-clock time it was written, so a player can count lost frames exactly and measure latency.
 *
 * Payload layout (after the FLV body header, which the servers sniff):
 *   video: 17|27 01 000000 | u32 seq | f64 sentAtMs | filler     (seq at 5, time at 9)
 *   audio: af 01           | u32 seq | f64 sentAtMs | filler     (seq at 2, time at 6)
 */
import { performance } from 'node:perf_hooks';

/** What the publisher needs of a client: RtmpClient and RtmfpClient both fit. */
export interface MediaWriter {
  writeMedia(streamId: number, type: number, timestamp: number, payload: Buffer): void;
  readonly closed: boolean;
}

export const VIDEO = 9;
export const AUDIO = 8;

/** AVCDecoderConfigurationRecord (baseline SPS/PPS) as an FLV video body: `17 00 000000 ...`. */
export const avcSequenceHeader = Buffer.from('1700000000014d401effe1000a674d401ee8802802dd0001000468ee3c80', 'hex');
/** AudioSpecificConfig (AAC LC, 44.1 kHz, stereo) as an FLV audio body: `af 00 1210`. */
export const aacSequenceHeader = Buffer.from('af001210', 'hex');

const VIDEO_SEQ_OFFSET = 5;
const AUDIO_SEQ_OFFSET = 2;
const MIN_VIDEO = VIDEO_SEQ_OFFSET + 12;
const MIN_AUDIO = AUDIO_SEQ_OFFSET + 12;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export interface StreamProfile {
  /** Target total bitrate (video + audio), kbit/s. */
  kbps: number;
  fps: number;
  /** Frames per GOP (a keyframe every `gop` video frames). */
  gop: number;
  /** Keyframe size as a multiple of an inter frame. */
  keyframeRatio: number;
  /** Audio frames per second (AAC: 44100 / 1024). */
  audioFps: number;
  /** Audio bytes per frame (≈ 128 kbit/s at 43 frames/s). */
  audioBytes: number;
}

export const defaultProfile = (kbps = 1000): StreamProfile => ({
  kbps,
  fps: 25,
  gop: 50,
  keyframeRatio: 10,
  audioFps: 44100 / 1024,
  audioBytes: 370,
});

/** Sizes of the key and inter video frames that, with the audio, make `profile.kbps`. */
export const frameSizes = (p: StreamProfile): { key: number; inter: number; audio: number } => {
  const totalBytesPerSecond = (p.kbps * 1000) / 8;
  const videoBytesPerSecond = Math.max(totalBytesPerSecond - p.audioFps * p.audioBytes, p.fps * MIN_VIDEO * 2);
  const bytesPerGop = (videoBytesPerSecond * p.gop) / p.fps;
  const inter = Math.max(MIN_VIDEO, Math.round(bytesPerGop / (p.keyframeRatio + p.gop - 1)));
  return { key: Math.max(MIN_VIDEO, inter * p.keyframeRatio), inter, audio: Math.max(MIN_AUDIO, p.audioBytes) };
};

const filled = (size: number, seed: number): Buffer => {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift: incompressible-looking filler, cheap to make once.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
};

/** A received media payload's identity: track, sequence number, send time (ms), or null if not ours. */
export interface Stamp {
  type: number;
  seq: number;
  sentAt: number;
}

/** Reads the stamp written by `StreamPublisher` (sequence headers and foreign frames give false). */
export const readStamp = (type: number, payload: Buffer, out: Stamp): boolean => {
  if (type === VIDEO) {
    if (payload.length < MIN_VIDEO || payload[1] !== 1) {
      return false;
    }
    out.type = VIDEO;
    out.seq = payload.readUInt32BE(VIDEO_SEQ_OFFSET);
    out.sentAt = payload.readDoubleBE(VIDEO_SEQ_OFFSET + 4);
    return true;
  }
  if (type === AUDIO) {
    if (payload.length < MIN_AUDIO || payload[1] !== 1) {
      return false;
    }
    out.type = AUDIO;
    out.seq = payload.readUInt32BE(AUDIO_SEQ_OFFSET);
    out.sentAt = payload.readDoubleBE(AUDIO_SEQ_OFFSET + 4);
    return true;
  }
  return false;
};

/**
 * Publishes the synthetic stream on an RTMP or RTMFP client's stream, on the wall clock: a 5 ms timer sends
 * every frame whose time has come, so a late timer catches up instead of drifting. Stops by itself
 * after `maxMs` (a benchmark can never run away).
 */
export class StreamPublisher {
  /** Next sequence number of each track (= frames of that track written so far). */
  videoSeq = 0;
  audioSeq = 0;
  bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private readonly key: Buffer;
  private readonly inter: Buffer;
  private readonly audio: Buffer;

  constructor(
    private readonly client: MediaWriter,
    private readonly streamId: number,
    private readonly profile: StreamProfile,
    private readonly maxMs: number,
  ) {
    const sizes = frameSizes(profile);
    this.key = filled(sizes.key, 1);
    this.key[0] = 0x17;
    this.inter = filled(sizes.inter, 2);
    this.inter[0] = 0x27;
    for (const b of [this.key, this.inter]) {
      b[1] = 1;
      b.writeUIntBE(0, 2, 3);
    }
    this.audio = filled(sizes.audio, 3);
    this.audio[0] = 0xaf;
    this.audio[1] = 1;
  }

  start(): void {
    this.client.writeMedia(this.streamId, VIDEO, 0, avcSequenceHeader);
    this.client.writeMedia(this.streamId, AUDIO, 0, aacSequenceHeader);
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 5);
  }

  private tick(): void {
    const elapsed = performance.now() - this.startedAt;
    if (elapsed > this.maxMs || this.client.closed) {
      this.stop();
      return;
    }
    const p = this.profile;
    // Interleave by due time so audio and video leave in timestamp order.
    for (;;) {
      const videoDue = (this.videoSeq * 1000) / p.fps;
      const audioDue = (this.audioSeq * 1000) / p.audioFps;
      const due = Math.min(videoDue, audioDue);
      if (due > elapsed) {
        return;
      }
      if (videoDue <= audioDue) {
        const frame = this.videoSeq % p.gop === 0 ? this.key : this.inter;
        frame.writeUInt32BE(this.videoSeq, VIDEO_SEQ_OFFSET);
        frame.writeDoubleBE(wallMs(), VIDEO_SEQ_OFFSET + 4);
        // encodeMessage copies the payload synchronously, so the template can be reused.
        this.client.writeMedia(this.streamId, VIDEO, Math.round(videoDue), frame);
        this.bytes += frame.length;
        this.videoSeq++;
      } else {
        this.audio.writeUInt32BE(this.audioSeq, AUDIO_SEQ_OFFSET);
        this.audio.writeDoubleBE(wallMs(), AUDIO_SEQ_OFFSET + 4);
        this.client.writeMedia(this.streamId, AUDIO, Math.round(audioDue), this.audio);
        this.bytes += this.audio.length;
        this.audioSeq++;
      }
    }
  }

  /** Seconds of stream written so far, by the publisher's clock. */
  get elapsedMs(): number {
    return this.startedAt === 0 ? 0 : performance.now() - this.startedAt;
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
