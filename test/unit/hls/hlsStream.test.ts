/**
 * HlsStream on synthetic streams (no ffmpeg): when segments start and are cut, the playlist
 * tags, file names, 32-bit timestamp wrap, new publishers and configurations (discontinuities,
 * init generations), audio-only streams, unsupported codecs, garbage, bounded memory, LL-HLS
 * blocking reload and change notifications.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HlsStream, type HlsOptions } from '../../../src/http/hls/HlsStream.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { find, findAll, parseBoxes, playlistUris } from './hlsTestKit.js';
import { avcRecord, prng, SPS } from './samples.js';

const record320 = avcRecord(Buffer.from(SPS.avc.high320x240, 'hex'), Buffer.from('68ebecb22c', 'hex'));
const record1080 = avcRecord(Buffer.from(SPS.avc.high1080, 'hex'), Buffer.from('68ebecb22c', 'hex'));
const nalu = (size: number, fill: number): Buffer => {
  const b = Buffer.alloc(4 + size, fill);
  b.writeUInt32BE(size);
  return b;
};
const video = (t: number, header: number[], body: Buffer): MediaFrame => new MediaFrame(FrameKind.VIDEO, t >>> 0, Buffer.concat([Buffer.from(header), body]));
const avcConfig = (t = 0, record = record320): MediaFrame => video(t, [0x17, 0, 0, 0, 0], record);
const key = (t: number, size = 200): MediaFrame => video(t, [0x17, 1, 0, 0, 0], nalu(size, 1));
const inter = (t: number, size = 50): MediaFrame => video(t, [0x27, 1, 0, 0, 0], nalu(size, 2));
const aacConfig = (t = 0, asc = '1210'): MediaFrame => new MediaFrame(FrameKind.AUDIO, t >>> 0, Buffer.from(`af00${asc}`, 'hex'));
const aac = (t: number): MediaFrame => new MediaFrame(FrameKind.AUDIO, t >>> 0, Buffer.from([0xaf, 1, 0x21, 0x10, 0x05]));

interface StreamShape {
  /** Seconds of media. */
  seconds: number;
  /** Frames between keyframes (25 fps), 0 = only the first one. */
  gop?: number;
  /** Raw timestamp of the first frame (32-bit: may wrap). */
  start?: number;
  audio?: boolean;
  videoOn?: boolean;
  configs?: boolean;
}

/** Configuration frames, then 25 fps video and 44.1 kHz AAC frames in timestamp order. */
const stream = ({ seconds, gop = 25, start = 0, audio = true, videoOn = true, configs = true }: StreamShape): MediaFrame[] => {
  const timed: { t: number; frame: () => MediaFrame }[] = [];
  if (videoOn) {
    for (let i = 0; i < seconds * 25; i++) {
      const isKey = gop === 0 ? i === 0 : i % gop === 0;
      timed.push({ t: i * 40, frame: () => (isKey ? key(start + i * 40) : inter(start + i * 40)) });
    }
  }
  if (audio) {
    for (let i = 0; (i * 1024) / 44.1 < seconds * 1000; i++) {
      const t = Math.round((i * 1024) / 44.1);
      timed.push({ t, frame: () => aac(start + t) });
    }
  }
  timed.sort((a, b) => a.t - b.t);
  const head = configs ? [...(videoOn ? [avcConfig(start)] : []), ...(audio ? [aacConfig(start)] : [])] : [];
  return [...head, ...timed.map((x) => x.frame())];
};

const options = (o: Partial<HlsOptions> = {}): HlsOptions => ({ segmentDuration: 1, windowSize: 10, partDuration: 0, ...o });
const make = (o: Partial<HlsOptions> = {}): HlsStream => new HlsStream('live', options(o));
const write = (s: HlsStream, frames: MediaFrame[]): void => frames.forEach((f) => s.writeFrame(f));
const extinfs = (playlist: string): number[] => [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
const segmentNames = (playlist: string): string[] => playlistUris(playlist).filter((u) => /\.\d+\.m4s$/.test(u) && !/\.\d+\.\d+\.m4s$/.test(u));

/** Base decode times of the track's trafs in a segment. */
const decodeTimes = (segment: Buffer, trackId: number): number[] =>
  findAll(parseBoxes(segment), 'moof/traf')
    .filter((traf) => find(traf.children, 'tfhd').body.readUInt32BE(4) === trackId)
    .map((traf) => Number(find(traf.children, 'tfdt').body.readBigUInt64BE(4)));

/** Sample durations of one track in a segment, all fragments. */
const durations = (segment: Buffer, trackId: number): number[] =>
  findAll(parseBoxes(segment), 'moof/traf')
    .filter((traf) => find(traf.children, 'tfhd').body.readUInt32BE(4) === trackId)
    .flatMap((traf) => {
      const trun = find(traf.children, 'trun').body;
      const stride = (trun.readUIntBE(1, 3) & 0x800) !== 0 ? 16 : 12;
      return Array.from({ length: trun.readUInt32BE(4) }, (_, i) => trun.readUInt32BE(12 + i * stride));
    });

describe('HlsStream segmenting', () => {
  it('serves nothing until a segment is complete, and starts at the first keyframe', () => {
    const s = make();
    s.onPublishing(true);
    write(s, [avcConfig(), aacConfig(), inter(0), aac(10), inter(40)]);
    assert.equal(s.playlist(), null);
    assert.equal(s.masterCodecs(), null);
    write(s, stream({ seconds: 2, start: 80 }).slice(2));
    const text = s.playlist()!;
    assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI="live.init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[-\dT:.]+Z\n#EXTINF:1.000,\nlive.0.m4s\n$/);
    assert.equal(s.masterCodecs(), 'avc1.64000d,mp4a.40.2');
    const segment = s.resource('live.0.m4s')!;
    assert.deepEqual(decodeTimes(segment, 1), [70 * 90], 'the first keyframe, 70 ms after the first audio kept');
    assert.deepEqual(durations(segment, 1), Array(25).fill(3600));
    const trun = find(parseBoxes(segment), 'moof/traf/trun').body;
    assert.equal(trun.readUInt32BE(20), 0x02000000, 'the segment starts with a sync sample');
    assert.deepEqual(decodeTimes(segment, 2), [0], 'audio from half a second before the keyframe on');
    assert.ok(s.resource('live.init.mp4') !== null);
    s.close();
  });

  it('keeps the audio of the last half second before the first keyframe', () => {
    const s = make();
    s.onPublishing(true);
    write(s, [avcConfig(), aacConfig(), inter(0), aac(0), aac(400), aac(620), aac(643), key(1000), aac(1020)]);
    write(s, stream({ seconds: 2, start: 1040 }).slice(2).filter((f) => f.kind === FrameKind.VIDEO));
    s.onPublishing(false);
    const segment = s.resource('live.0.m4s')!;
    assert.deepEqual(decodeTimes(segment, 2), [0], 'from the frame at 620 ms on');
    assert.equal(durations(segment, 2).length, 3);
    assert.deepEqual(decodeTimes(segment, 1), [380 * 90], 'video starts at its keyframe');
    assert.deepEqual(extinfs(s.playlist()!), [1.04, 1], 'EXTINF counts from the keyframe');
  });

  it('cuts at keyframes once the duration is reached, and serves only known names', () => {
    const s = make({ segmentDuration: 1.5 });
    s.onPublishing(true);
    write(s, stream({ seconds: 6, gop: 25 }));
    s.onPublishing(false);
    const text = s.playlist()!;
    assert.deepEqual(extinfs(text), [2, 2, 2], 'the first keyframe after 1.5 s is at 2 s');
    assert.match(text, /#EXT-X-TARGETDURATION:2\n/);
    for (const name of ['live.3.m4s', 'live.0.0.m4s', 'other.0.m4s', 'live.0.m4s.x', 'live.init.1.mp4', 'live.init.0.mp4', 'live.-1.m4s', 'live.m3u8']) {
      assert.equal(s.resource(name), null, name);
    }
    assert.ok(s.resource('live.2.m4s') !== null);
    const [first, second] = [...text.matchAll(/PROGRAM-DATE-TIME:(\S+)/g)].map((m) => Date.parse(m[1]));
    assert.equal(second - first, 2000, 'program date times follow the media');
  });

  it('follows 32-bit timestamps across the wrap', () => {
    const s = make();
    s.onPublishing(true);
    write(s, stream({ seconds: 5, start: 2 ** 32 - 2500 }));
    s.onPublishing(false);
    const text = s.playlist()!;
    assert.deepEqual(extinfs(text), [1, 1, 1, 1, 1]);
    const names = segmentNames(text);
    assert.deepEqual(names.map((n) => decodeTimes(s.resource(n)!, 1)[0]), [0, 90000, 180000, 270000, 360000]);
    const audioEnds = names.map((n) => decodeTimes(s.resource(n)!, 2)[0] + durations(s.resource(n)!, 2).reduce((a, b) => a + b));
    names.slice(1).forEach((n, i) => assert.equal(decodeTimes(s.resource(n)!, 2)[0], audioEnds[i], `audio continues into ${n}`));
    assert.equal(s.errors, 0);
  });

  it('goes on after a publisher clock reset without a gap', () => {
    const s = make();
    s.onPublishing(true);
    write(s, stream({ seconds: 2, start: 500_000 }));
    write(s, stream({ seconds: 2, start: 0, configs: false }).map((f) => new MediaFrame(f.kind, f.timestamp + 40, f.payload)));
    s.onPublishing(false);
    const names = segmentNames(s.playlist()!);
    assert.equal(names.length, 3, 'the keyframe after the reset comes at 1.997 s: no cut there');
    // The step back of 500 s is taken as a reset: the frame after it is stamped where the last one was.
    const all = names.flatMap((n) => durations(s.resource(n)!, 1));
    assert.equal(all.length, 100);
    assert.ok(all.every((d) => d > 0 && d <= 3600), 'no gap, no overlap');
  });

  it('cuts segments without keyframes at maxSegmentDuration, and big ones at the byte cap', () => {
    const s = make({ maxSegmentDuration: 3 });
    s.onPublishing(true);
    write(s, stream({ seconds: 7, gop: 0, audio: false }));
    s.onPublishing(false);
    const text = s.playlist()!;
    assert.deepEqual(extinfs(text), [3, 3, 1]);
    assert.match(text, /#EXT-X-TARGETDURATION:3\n/);
    assert.equal(find(parseBoxes(s.resource('live.1.m4s')!), 'moof/traf/trun').body.readUInt32BE(20), 0x01010000, 'starts with a non-sync sample');
    // The default bound is 12 s: a 10 s GOP still gives keyframe-aligned segments.
    const longGop = make();
    longGop.onPublishing(true);
    write(longGop, stream({ seconds: 30, gop: 250, audio: false }));
    longGop.onPublishing(false);
    assert.deepEqual(extinfs(longGop.playlist()!), [10, 10, 10]);
    const capped = make({ maxSegmentBytes: 2000, windowSize: 100 });
    capped.onPublishing(true);
    write(capped, [avcConfig(), key(0, 500), ...Array.from({ length: 49 }, (_, i) => inter(40 + i * 40, 500))]);
    capped.onPublishing(false);
    const sizes = segmentNames(capped.playlist()!).map((n) => capped.resource(n)!.length);
    assert.ok(sizes.length >= 12 && sizes.every((n) => n < 2000 + 500), `${sizes.join()}: at most the cap and a frame`);
  });

  it('goes on with audio when video stalls, in bounded segments', () => {
    const s = make({ maxSegmentDuration: 3, windowSize: 100 });
    s.onPublishing(true);
    const frames = stream({ seconds: 8 }).filter((f) => f.kind !== FrameKind.VIDEO || f.timestamp < 1500);
    write(s, frames);
    s.onPublishing(false);
    const text = s.playlist()!;
    const names = segmentNames(text);
    assert.deepEqual(extinfs(text).map(Math.round), [1, 3, 3, 1]);
    const audioSamples = names.reduce((n, name) => n + durations(s.resource(name)!, 2).length, 0);
    assert.equal(audioSamples, frames.filter((f) => f.kind === FrameKind.AUDIO).length - 1, 'every AAC frame but the config');
  });

  it('keeps windowSize segments, and fewer when they pass maxWindowBytes', () => {
    const s = make({ windowSize: 3 });
    s.onPublishing(true);
    write(s, stream({ seconds: 6 }));
    s.onPublishing(false);
    assert.deepEqual(segmentNames(s.playlist()!), ['live.3.m4s', 'live.4.m4s', 'live.5.m4s']);
    assert.match(s.playlist()!, /#EXT-X-MEDIA-SEQUENCE:3\n/);
    const small = make({ windowSize: 10, maxWindowBytes: 15_000 });
    small.onPublishing(true);
    write(small, stream({ seconds: 6 }));
    small.onPublishing(false);
    const names = segmentNames(small.playlist()!);
    assert.ok(names.length < 6 && names.at(-1) === 'live.5.m4s', names.join());
  });

  it('starts from a late joiner snapshot: configurations stamped 0, then a GOP an hour in', () => {
    const s = make();
    // No onPublishing(true): an output added to a running feed gets its cache snapshot first.
    write(s, [avcConfig(0), aacConfig(0), ...stream({ seconds: 3, start: 3_600_000, configs: false })]);
    s.onPublishing(false);
    const names = segmentNames(s.playlist()!);
    assert.deepEqual(names.map((n) => decodeTimes(s.resource(n)!, 1)[0]), [0, 90000, 180000], 'the jump is not a gap');
  });

  it('ignores data frames', () => {
    const s = make();
    const frames = stream({ seconds: 2 });
    const metadata = new MediaFrame(FrameKind.DATA, 0, Buffer.from('02000a6f6e4d65746144617461', 'hex'));
    s.onPublishing(true);
    frames.forEach((f, i) => {
      s.writeFrame(f);
      if (i % 10 === 0) {
        s.writeFrame(metadata);
      }
    });
    s.onPublishing(false);
    assert.deepEqual(extinfs(s.playlist()!), [1, 1]);
  });
});

describe('HlsStream publishers and configurations', () => {
  it('marks a new publisher with a discontinuity, same init segment when nothing changed', () => {
    const s = make({ windowSize: 4 });
    s.onPublishing(true);
    write(s, stream({ seconds: 2 }));
    s.onPublishing(false);
    s.onPublishing(true);
    write(s, stream({ seconds: 2 }));
    s.onPublishing(false);
    const text = s.playlist()!;
    assert.equal(text.match(/#EXT-X-MAP/g)?.length, 1);
    assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:0\n/);
    assert.match(text, /live\.1\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:\S+\n#EXTINF:1.000,\nlive\.2\.m4s\n/);
    // Decode times go on from where the last publisher's media ended (its audio, 2.02 s).
    const resumed = decodeTimes(s.resource('live.2.m4s')!, 1)[0];
    assert.ok(resumed >= 180000 && resumed <= 180000 + 90 * 25, `${resumed}`);
    // A third publisher with another picture size: a new init segment, named anew.
    s.onPublishing(true);
    write(s, stream({ seconds: 2 }).map((f, i) => (i === 0 ? avcConfig(0, record1080) : f)));
    s.onPublishing(false);
    const third = s.playlist()!;
    assert.match(third, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="live.init.1.mp4"\n/);
    assert.match(third, /#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="live.init.mp4"\n/, 'the removed discontinuity counts');
    assert.ok(s.resource('live.init.1.mp4') !== null);
    assert.equal(s.masterCodecs(), 'avc1.640028,mp4a.40.2');
    assert.equal(s.variant()?.height, 1080);
  });

  it('takes a changed configuration at the next keyframe, and ignores repeated ones', () => {
    const s = make();
    s.onPublishing(true);
    const frames = stream({ seconds: 4 });
    const out: MediaFrame[] = [];
    for (const f of frames.slice(2)) {
      if (f.kind === FrameKind.VIDEO && f.timestamp === 1000) {
        out.push(avcConfig(1000)); // the same bytes again: nothing changes
      }
      if (f.kind === FrameKind.VIDEO && f.timestamp === 2400) {
        out.push(avcConfig(2400, record1080)); // effective at the keyframe at 3 s
      }
      out.push(f);
    }
    write(s, [...frames.slice(0, 2), ...out]);
    s.onPublishing(false);
    const text = s.playlist()!;
    assert.deepEqual(extinfs(text), [1, 1, 1, 1]);
    assert.match(text, /live\.2\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="live.init.1.mp4"\n#EXT-X-PROGRAM-DATE-TIME:\S+\n#EXTINF:1.000,\nlive\.3\.m4s\n$/);
  });

  it('makes an audio-only stream when a second of audio comes without video', () => {
    const s = make();
    s.onPublishing(true);
    write(s, stream({ seconds: 3.5, videoOn: false }));
    s.onPublishing(false);
    const text = s.playlist()!;
    const durationsS = extinfs(text);
    assert.equal(durationsS.length, 4);
    assert.ok(durationsS.slice(0, 3).every((d) => Math.abs(d - 1) < 0.03), durationsS.join());
    assert.equal(s.masterCodecs(), 'mp4a.40.2');
    assert.equal(s.variant()?.width, 0);
    assert.doesNotMatch(s.masterPlaylist()!, /RESOLUTION/);
    const names = segmentNames(text);
    const starts = names.map((n) => decodeTimes(s.resource(n)!, 2)[0]);
    names.slice(1).forEach((n, i) => {
      const prev = s.resource(names[i])!;
      assert.equal(starts[i + 1], starts[i] + durations(prev, 2).reduce((a, b) => a + b), `${n} goes on sample-exact`);
    });
  });

  it('serves nothing for unsupported video, video only next to unsupported audio', () => {
    const vp6 = make();
    vp6.onPublishing(true);
    for (let t = 0; t < 3000; t += 40) {
      vp6.writeFrame(video(t, [t % 1000 === 0 ? 0x14 : 0x24, 0], Buffer.alloc(100)));
      vp6.writeFrame(aac(t));
    }
    assert.equal(vp6.playlist(), null);
    assert.equal(vp6.masterCodecs(), null);
    assert.equal(vp6.unsupportedCodec, 'flv video codec 4');
    const speex = make();
    speex.onPublishing(true);
    write(speex, stream({ seconds: 2, audio: false }).flatMap((f) => [f, new MediaFrame(FrameKind.AUDIO, f.timestamp, Buffer.from([0xb2, 1, 2]))]));
    speex.onPublishing(false);
    assert.equal(speex.masterCodecs(), 'avc1.64000d');
    assert.deepEqual(extinfs(speex.playlist()!), [1, 1]);
    const speexOnly = make();
    speexOnly.onPublishing(true);
    for (let t = 0; t < 3000; t += 20) {
      speexOnly.writeFrame(new MediaFrame(FrameKind.AUDIO, t, Buffer.from([0xb2, 1, 2])));
    }
    assert.equal(speexOnly.playlist(), null);
    assert.equal(speexOnly.unsupportedCodec, 'flv sound format 11');
    // A new publisher starts over.
    speexOnly.onPublishing(true);
    assert.equal(speexOnly.unsupportedCodec, null);
  });

  it('never throws on garbage: random payloads, truncated sequence headers', () => {
    const random = prng(11);
    const s = make({ partDuration: 0.2 });
    s.onPublishing(true);
    const garbage = (t: number): MediaFrame => {
      const kind = [FrameKind.AUDIO, FrameKind.VIDEO, FrameKind.DATA][Math.floor(random() * 3)];
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      // Half of them look like the real headers, to get past the first byte.
      if (bytes.length > 2 && random() < 0.5) {
        bytes[0] = kind === FrameKind.VIDEO ? [0x17, 0x27, 0x1c, 0x90, 0x91, 0x93][Math.floor(random() * 6)] : [0xaf, 0x2f, 0x90, 0x91][Math.floor(random() * 4)];
      }
      return new MediaFrame(kind, Math.floor(t + random() * 100), bytes);
    };
    const truncated = [...Array(record320.length).keys()].map((n) => video(0, [0x17, 0, 0, 0, 0], record320.subarray(0, n)));
    write(s, truncated);
    const frames = stream({ seconds: 3 });
    frames.forEach((f, i) => {
      s.writeFrame(f);
      if (i > 2) {
        s.writeFrame(garbage(f.timestamp));
      }
    });
    for (let i = 0; i < 2000; i++) {
      s.writeFrame(garbage(random() * 2 ** 32));
    }
    s.onPublishing(false);
    assert.equal(s.errors, 0, 'no handler threw');
  });
});

describe('HlsStream LL-HLS and notifications', () => {
  it('blocks playlist reloads until the segment or part exists', async () => {
    const s = make({ partDuration: 0.2 });
    s.onPublishing(true);
    const frames = stream({ seconds: 4 });
    const upTo = (ms: number): void => {
      while (frames.length > 0 && frames[0].timestamp <= ms) {
        s.writeFrame(frames.shift()!);
      }
    };
    const first = s.waitFor(0);
    const part = s.waitFor(1, 2);
    let partDone = false;
    void part.then(() => (partDone = true));
    upTo(1000);
    assert.equal(await first, true, 'segment 0 completes at the keyframe at 1 s');
    upTo(1500);
    await Promise.resolve();
    assert.equal(partDone, false, 'parts 0 and 1 of segment 1 only (a part is out when the next frame comes)');
    upTo(1600);
    assert.equal(await part, true);
    assert.equal(await s.waitFor(1, 0), true, 'already there');
    assert.equal(await s.waitFor(4), false, 'more than two segments past the growing one: at once');
    const asked = Date.now();
    assert.equal(await s.waitFor(3, undefined, 30), false);
    assert.ok(Date.now() - asked >= 25, 'two segments past the growing one: waited for, then timed out');
    assert.equal(await s.waitFor(2, undefined, 20), false, 'timed out');
    const pending = s.waitFor(2, 3, 60_000);
    s.close();
    assert.equal(await pending, false, 'close releases waiters');
    assert.equal(s.playlist(), null);
  });

  it('tells listeners about each part and segment until they unsubscribe', () => {
    const s = make({ partDuration: 0.2 });
    let calls = 0;
    const off = s.onChange(() => calls++);
    s.onChange(() => {
      throw new Error('a broken listener');
    });
    s.onPublishing(true);
    write(s, stream({ seconds: 2.1 }));
    // Per second: four parts, then the fifth part and the segment.
    assert.equal(calls, 1 + 6 + 6, 'onPublishing, then parts and segments');
    off();
    s.onPublishing(false);
    assert.equal(calls, 13);
    assert.equal(s.errors, 0);
  });
});
