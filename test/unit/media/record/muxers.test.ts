/**
 * The MP4 and MPEG-TS muxers against ffmpeg's own files: H.264 with B-frames and AAC, MP3, HEVC
 * with Opus (Enhanced RTMP frames). ffprobe reads what they write: codecs, every frame, and (MP4)
 * every coded frame byte for byte.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { FrameKind, type MediaFrame } from '../../../../src/media/MediaFrame.js';
import { type MediaFormat, createMuxer } from '../../../../src/media/record/MediaMuxer.js';
import { makeTestFlv, tempDir } from '../../../helpers/ffmpeg.js';
import { frameCount, hasFfprobe, probe } from '../../../helpers/ffprobe.js';
import { enhancedFramesFromMp4, framesFromFlv, packetMd5s, probePackets, tool } from '../../hls/hlsTestKit.js';

const mux = (frames: readonly MediaFrame[], format: MediaFormat, file: string): string => {
  const muxer = createMuxer(format);
  const out: Buffer[] = [];
  for (const f of frames) {
    muxer.write(f.kind, f.timestamp, f.payload, out);
  }
  muxer.end(out);
  writeFileSync(file, Buffer.concat(out));
  return file;
};

const coded = (frames: readonly MediaFrame[], kind: FrameKind): number => frames.filter((f) => f.kind === kind && !f.isSequenceHeader).length;

describe('MP4 and MPEG-TS muxers', { skip: hasFfprobe() ? false : 'ffmpeg/ffprobe not installed' }, () => {
  let dir = '';
  let avc: MediaFrame[] = [];
  let avcFlv = '';

  before(() => {
    dir = tempDir('nimbus-mux-');
    avcFlv = makeTestFlv(join(dir, 'avc.flv'), 3, 25, ['-bf', '2']);
    avc = framesFromFlv(avcFlv).filter((f) => !(f.kind === FrameKind.VIDEO && f.payload[1] === 2)); // not the end-of-sequence tag
  });

  it('MP4: H.264 with B-frames and AAC, every coded frame byte for byte', () => {
    const file = mux(avc, 'mp4', join(dir, 'avc.mp4'));
    assert.deepEqual(packetMd5s(file, 'v'), packetMd5s(avcFlv, 'v'));
    assert.deepEqual(packetMd5s(file, 'a'), packetMd5s(avcFlv, 'a'));
    const p = probe(file);
    assert.deepEqual(p.streams.map((s) => s.codec_name), ['h264', 'aac']);
    assert.ok(Math.abs(p.duration - probe(avcFlv).duration) < 0.1, `${p.duration} s`);
  });

  it('MPEG-TS: H.264 with B-frames (PTS and DTS) and AAC in ADTS, every frame', () => {
    const file = mux(avc, 'ts', join(dir, 'avc.ts'));
    const p = probe(file);
    assert.equal(p.formatName, 'mpegts');
    assert.deepEqual(p.streams.map((s) => s.codec_name), ['h264', 'aac']);
    assert.equal(frameCount(p, 'video'), coded(avc, FrameKind.VIDEO));
    assert.equal(frameCount(p, 'audio'), coded(avc, FrameKind.AUDIO));
    const video = probePackets(file, 'v');
    assert.ok(video.every((k) => k.pts >= k.dts), 'PTS never before DTS');
    assert.ok(video.some((k) => k.pts > k.dts), 'composition offsets kept');
    const source = probePackets(avcFlv, 'v').map((k) => k.pts).sort((a, b) => a - b);
    assert.deepEqual(video.map((k) => Math.round(k.pts / 90)).sort((a, b) => a - b), source, 'presentation times (ms)');
    // ffmpeg decodes it.
    tool('ffmpeg', ['-i', file, '-f', 'null', '-']);
  });

  it('MP3 audio in both', () => {
    const mp3Flv = makeTestFlv(join(dir, 'mp3.flv'), 2, 25, ['-c:a', 'libmp3lame', '-ar', '44100']);
    const frames = framesFromFlv(mp3Flv);
    for (const format of ['mp4', 'ts'] as const) {
      const p = probe(mux(frames, format, join(dir, `mp3.${format}`)));
      assert.deepEqual(p.streams.map((s) => s.codec_name), ['h264', 'mp3'], format);
      assert.equal(frameCount(p, 'audio'), coded(frames, FrameKind.AUDIO), format);
    }
  });

  it('HEVC and Opus (Enhanced RTMP): both in MP4, HEVC alone in TS (Opus has no TS mapping here)', () => {
    const hevcMp4 = join(dir, 'hevc-source.mp4');
    tool('ffmpeg', [
      '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:bframes=2', '-pix_fmt', 'yuv420p',
      '-c:a', 'libopus', '-b:a', '48k', hevcMp4,
    ]);
    const frames = enhancedFramesFromMp4(hevcMp4);
    const mp4 = join(dir, 'hevc.mp4');
    mux(frames, 'mp4', mp4);
    assert.deepEqual(probe(mp4).streams.map((s) => s.codec_name), ['hevc', 'opus']);
    assert.deepEqual(packetMd5s(mp4, 'v'), packetMd5s(hevcMp4, 'v'));
    const ts = probe(mux(frames, 'ts', join(dir, 'hevc.ts')));
    assert.deepEqual(ts.streams.map((s) => s.codec_name), ['hevc']);
    assert.equal(frameCount(ts, 'video'), coded(frames, FrameKind.VIDEO));
  });
});
