/**
 * HLS end to end: sources made by ffmpeg go through HlsStream as MediaFrames; the playlist and
 * what it lists are written to a folder and read back by ffmpeg/ffprobe: the streams parse with
 * the right size and codecs, every coded packet comes out byte for byte (framemd5 of `-c copy`),
 * decode times run on without a gap across segments, the window slides, LL-HLS parts add up to
 * their segments. H.264/AAC and MP3 come from ffmpeg's FLV muxer, HEVC/Opus (which it cannot
 * put in FLV) from an MP4 rebuilt as Enhanced RTMP frames.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HlsStream, type HlsOptions } from '../../../src/http/hls/HlsStream.js';
import { FrameKind, type MediaFrame } from '../../../src/media/MediaFrame.js';
import { hasFfmpeg, makeTestFlv, tempDir } from '../../helpers/ffmpeg.js';
import { enhancedFramesFromMp4, framesFromFlv, hasFfprobe, packetMd5s, playlistUris, probePackets, probeStreams, publish, tool, writeHls } from './hlsTestKit.js';

const available = hasFfmpeg() && hasFfprobe();

const options = (o: Partial<HlsOptions> = {}): HlsOptions => ({ segmentDuration: 1, windowSize: 100, partDuration: 0, ...o });

/** Decode-time steps between consecutive packets: one value when the timeline has no gap. */
const steps = (input: string, stream: 'v' | 'a'): Set<number> => {
  const dts = probePackets(input, stream).map((p) => p.dts);
  return new Set(dts.slice(1).map((d, i) => d - dts[i]));
};

const extinfs = (playlist: string): number[] => [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));

describe('HLS end to end (ffmpeg)', { skip: available ? false : 'ffmpeg/ffprobe not installed' }, () => {
  let dir = '';
  let avcFlv = '';
  let mp3Flv = '';
  let hevcMp4 = '';
  let avcMp4 = '';
  let avcFrames: MediaFrame[] = [];

  before(() => {
    dir = tempDir('nimbus-hls-');
    // 4 s at 25 fps, a keyframe every second, B-frames (composition offsets), AAC.
    avcFlv = makeTestFlv(join(dir, 'avc.flv'), 4, 25, ['-bf', '2']);
    mp3Flv = makeTestFlv(join(dir, 'mp3.flv'), 2, 25, ['-c:a', 'libmp3lame', '-ar', '44100']);
    hevcMp4 = join(dir, 'hevc.mp4');
    tool('ffmpeg', [
      '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=3', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:bframes=2', '-pix_fmt', 'yuv420p',
      '-c:a', 'libopus', '-b:a', '48k', hevcMp4,
    ]);
    avcMp4 = join(dir, 'avc.mp4');
    tool('ffmpeg', ['-y', '-i', avcFlv, '-c', 'copy', avcMp4]);
    avcFrames = framesFromFlv(avcFlv);
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves H.264 + AAC from an FLV byte for byte, with continuous timestamps', () => {
    const reordered = avcFrames.filter((f) => f.kind === FrameKind.VIDEO && f.payload[1] === 1 && f.payload.readIntBE(2, 3) !== 0);
    assert.ok(reordered.length > 0, 'B-frames: some composition offsets are not 0');
    const stream = new HlsStream('live', options());
    publish(stream, avcFrames);
    const out = tempDir('nimbus-hls-avc-');
    try {
      const playlist = writeHls(stream, out);
      const [video, audio] = probeStreams(playlist);
      assert.equal(video.codec_name, 'h264');
      assert.equal(video.width, 320);
      assert.equal(video.height, 240);
      assert.equal(audio.codec_name, 'aac');
      assert.equal(audio.sample_rate, '44100');
      // CODECS from the SPS: profile_idc, constraint flags, level_idc (ultrafast with B-frames: Main).
      const source = probeStreams(avcFlv)[0] as { profile?: string; level?: number };
      assert.equal(source.profile, 'Main');
      assert.equal(stream.masterCodecs(), `avc1.4d40${source.level!.toString(16).padStart(2, '0')},mp4a.40.2`);
      assert.deepEqual(extinfs(stream.playlist()!), [1, 1, 1, 1], 'a segment per keyframe (1 s)');
      const sourceVideo = packetMd5s(avcFlv, 'v');
      assert.equal(sourceVideo.length, 100);
      assert.deepEqual(packetMd5s(playlist, 'v'), sourceVideo);
      assert.deepEqual(packetMd5s(playlist, 'a'), packetMd5s(avcFlv, 'a'));
      assert.deepEqual([...steps(playlist, 'v')], [3600], 'video: 40 ms at 90 kHz, no gap at the segment joins');
      assert.deepEqual([...steps(playlist, 'a')], [1024], 'audio: one AAC frame each, exact');
      const variant = stream.variant()!;
      assert.equal(variant.width, 320);
      assert.ok(variant.bandwidth >= variant.averageBandwidth && variant.averageBandwidth > 100_000);
      assert.match(stream.masterPlaylist()!, /#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=320x240\nlive\.m3u8\n/);
      assert.equal(stream.errors, 0);
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('serves HEVC + Opus sent as Enhanced RTMP (hvc1/Opus FourCC) byte for byte', () => {
    const stream = new HlsStream('hevc', options());
    publish(stream, enhancedFramesFromMp4(hevcMp4));
    const out = tempDir('nimbus-hls-hevc-');
    try {
      const playlist = writeHls(stream, out, 'hevc.m3u8');
      const [video, audio] = probeStreams(playlist);
      assert.equal(video.codec_name, 'hevc');
      assert.equal(video.width, 320);
      assert.equal(video.height, 240);
      assert.equal(audio.codec_name, 'opus');
      assert.equal(audio.channels, 1);
      assert.match(stream.masterCodecs()!, /^hvc1\.1\.6\.L\d+\.90,opus$/);
      assert.deepEqual(packetMd5s(playlist, 'v'), packetMd5s(hevcMp4, 'v'));
      assert.deepEqual(packetMd5s(playlist, 'a'), packetMd5s(hevcMp4, 'a'));
      assert.deepEqual([...steps(playlist, 'v')], [3600]);
      assert.deepEqual([...steps(playlist, 'a')], [960], 'Opus: 20 ms packets at 48 kHz');
      assert.equal(stream.errors, 0);
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('serves H.264 + AAC sent as Enhanced RTMP (avc1/mp4a FourCC) like the legacy tags', () => {
    const stream = new HlsStream('ex', options());
    publish(stream, enhancedFramesFromMp4(avcMp4));
    const out = tempDir('nimbus-hls-ex-');
    try {
      const playlist = writeHls(stream, out, 'ex.m3u8');
      assert.deepEqual(packetMd5s(playlist, 'v'), packetMd5s(avcFlv, 'v'));
      assert.deepEqual(packetMd5s(playlist, 'a'), packetMd5s(avcFlv, 'a'));
      assert.deepEqual(extinfs(stream.playlist()!), [1, 1, 1, 1]);
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('serves MP3 audio (mp4a with the MPEG-1 audio object type)', () => {
    const stream = new HlsStream('mp3', options());
    const frames = framesFromFlv(mp3Flv);
    publish(stream, frames);
    // Video starts at the first keyframe; audio stamped just before it (the encoder delay) is kept.
    const firstKey = frames.find((f) => f.kind === FrameKind.VIDEO && f.isKeyframe && !f.isSequenceHeader)!.timestamp;
    const early = frames.filter((f) => f.kind === FrameKind.AUDIO && f.timestamp < firstKey).length;
    assert.ok(early > 0, 'this source has audio before its first keyframe');
    const out = tempDir('nimbus-hls-mp3-');
    try {
      const playlist = writeHls(stream, out, 'mp3.m3u8');
      const audio = probeStreams(playlist).find((s) => s.codec_type === 'audio')!;
      assert.equal(audio.codec_name, 'mp3');
      assert.match(stream.masterCodecs()!, /^avc1\.[0-9a-f]{6},mp4a\.40\.34$/);
      assert.deepEqual(packetMd5s(playlist, 'a'), packetMd5s(mp3Flv, 'a'));
      assert.deepEqual([...steps(playlist, 'a')], [1152]);
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('slides the window: old segments are gone, the playlist still plays', () => {
    const stream = new HlsStream('live', options({ windowSize: 2 }));
    publish(stream, avcFrames);
    const out = tempDir('nimbus-hls-window-');
    try {
      const text = stream.playlist()!;
      assert.match(text, /#EXT-X-MEDIA-SEQUENCE:2\n/);
      assert.deepEqual(playlistUris(text), ['live.init.mp4', 'live.2.m4s', 'live.3.m4s']);
      assert.equal(stream.resource('live.0.m4s'), null);
      assert.equal(stream.resource('live.1.m4s'), null);
      assert.ok(stream.resource('live.3.m4s') !== null);
      const playlist = writeHls(stream, out);
      // The last two seconds: the source's packets from the third keyframe on.
      assert.deepEqual(packetMd5s(playlist, 'v'), packetMd5s(avcFlv, 'v').slice(50));
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('makes LL-HLS parts that add up to their segments', () => {
    const stream = new HlsStream('ll', options({ partDuration: 0.2 }));
    stream.onPublishing(true);
    // Stop in the middle of the fourth second: a growing segment with some parts.
    const cut = avcFrames.findIndex((f) => f.timestamp >= 3500);
    for (const f of avcFrames.slice(0, cut)) {
      stream.writeFrame(f);
    }
    const live = stream.playlist()!;
    assert.match(live, /^#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.600\n#EXT-X-PART-INF:PART-TARGET=0\.200\n/);
    assert.match(live, /#EXT-X-PART:DURATION=0\.200,URI="ll\.3\.1\.m4s"\n/, 'the growing segment is listed by its parts');
    assert.match(live, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="ll\.3\.2\.m4s"\n$/);
    assert.equal(stream.resource('ll.3.m4s'), null, 'not complete yet');
    assert.ok(stream.resource('ll.3.1.m4s') !== null);
    assert.equal(stream.resource('ll.3.2.m4s'), null, 'the hinted part does not exist yet');
    for (const f of avcFrames.slice(cut)) {
      stream.writeFrame(f);
    }
    stream.onPublishing(false);
    const text = stream.playlist()!;
    const out = tempDir('nimbus-hls-ll-');
    try {
      // Each listed segment: parts of at most PART-TARGET, independent first part, bytes equal.
      for (const seq of [0, 1, 2, 3]) {
        const parts = [...text.matchAll(new RegExp(`#EXT-X-PART:DURATION=([\\d.]+),URI="ll\\.${seq}\\.(\\d+)\\.m4s"(,INDEPENDENT=YES)?`, 'g'))];
        assert.equal(parts.length, 5, `segment ${seq}: five parts of 200 ms`);
        assert.ok(parts.every((p) => Number(p[1]) <= 0.2));
        assert.equal(parts[0][3], ',INDEPENDENT=YES');
        const joined = Buffer.concat(parts.map((p) => stream.resource(`ll.${seq}.${p[2]}.m4s`)!));
        assert.ok(joined.equals(stream.resource(`ll.${seq}.m4s`)!), `segment ${seq} is its parts back to back`);
      }
      const playlist = writeHls(stream, out, 'll.m3u8');
      assert.deepEqual(packetMd5s(playlist, 'v'), packetMd5s(avcFlv, 'v'));
      assert.deepEqual(packetMd5s(playlist, 'a'), packetMd5s(avcFlv, 'a'));
    } finally {
      stream.close();
      rmSync(out, { recursive: true, force: true });
    }
  });
});
