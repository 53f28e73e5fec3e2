import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropPolicy, Verdict } from '../../../src/media/DropPolicy.js';
import { FrameCache } from '../../../src/media/FrameCache.js';
import fc from 'fast-check';
import { FrameKind, MAX_WIRE_SLOTS, MediaFrame, WireSlots } from '../../../src/media/MediaFrame.js';

const video = (key: boolean, t: number, seq = false): MediaFrame =>
  new MediaFrame(FrameKind.VIDEO, t, Buffer.from([key ? 0x17 : 0x27, seq ? 0 : 1, 0, 0, 0, 1, 2, 3]));
const audio = (t: number, seq = false): MediaFrame => new MediaFrame(FrameKind.AUDIO, t, Buffer.from([0xaf, seq ? 0 : 1, 9, 9]));
const metadata = new MediaFrame(FrameKind.DATA, 0, Buffer.from('02000a6f6e4d657461446174610300000009', 'hex'));

describe('MediaFrame', () => {
  it('sniffs keyframes, sequence headers, metadata and enhanced RTMP', () => {
    assert.ok(video(true, 0).isKeyframe);
    assert.ok(!video(false, 0).isKeyframe);
    assert.ok(video(true, 0, true).isSequenceHeader);
    assert.ok(audio(0, true).isSequenceHeader && !audio(0).isSequenceHeader);
    assert.ok(metadata.isMetadata && metadata.isConfig);
    // Enhanced RTMP: IsExHeader | FrameType 1 | PacketType 0 (SequenceStart), FourCC hvc1.
    const exSeq = new MediaFrame(FrameKind.VIDEO, 0, Buffer.from([0x90, 0x68, 0x76, 0x63, 0x31, 1]));
    assert.ok(exSeq.isSequenceHeader && !exSeq.isKeyframe);
    const exKey = new MediaFrame(FrameKind.VIDEO, 0, Buffer.from([0x91, 0x61, 0x76, 0x30, 0x31, 1]));
    assert.ok(exKey.isKeyframe);
    const exInter = new MediaFrame(FrameKind.VIDEO, 0, Buffer.from([0xa3, 0x61, 0x76, 0x30, 0x31, 1]));
    assert.ok(!exInter.isKeyframe && !exInter.isSequenceHeader);
  });

  it('encodes once per format', () => {
    const slots = new WireSlots();
    const f = video(true, 0);
    let calls = 0;
    const a = f.encoded(slots, 'x', () => { calls++; return Buffer.from('a'); });
    const b = f.encoded(slots, 'x', () => { calls++; return Buffer.from('b'); });
    assert.equal(a, b);
    assert.equal(calls, 1);
  });

  it('keeps each format in its slot, whichever API filled it, also for formats added later', () => {
    const slots = new WireSlots();
    const f = video(true, 0);
    const s1 = slots.slotOf('test:slot:1');
    assert.equal(slots.slotOf('test:slot:1'), s1, 'a format keeps its slot');
    assert.equal(f.wireAt(s1), null);
    assert.equal(f.wireFor(slots, 'test:slot:1'), undefined);
    const a = Buffer.from('a');
    assert.equal(f.store(slots, s1, a), a);
    assert.equal(f.wireFor(slots, 'test:slot:1'), a);
    assert.equal(f.encoded(slots, 'test:slot:1', () => Buffer.from('other')), a);
    const s2 = slots.slotOf('test:slot:2:added-later');
    assert.ok(s2 > s1);
    assert.equal(f.wireAt(s2), null, 'past the end of the frame\'s slots');
    const b = f.encoded(slots, 'test:slot:2:added-later', () => Buffer.from('b'));
    assert.equal(f.wireAt(s2), b);
    assert.equal(f.wireAt(s1), a, 'growing keeps the other formats');
  });

  it('memoizes formats past the slot table by name, without growing the table', () => {
    const slots = new WireSlots();
    assert.equal(slots.slotOf('test:slot:1'), 0);
    for (let i = 0; i <= MAX_WIRE_SLOTS; i++) {
      slots.slotOf(`test:fill:${i}`);
    }
    assert.equal(slots.slotOf('test:unslotted'), -1);
    assert.equal(slots.slotOf('test:unslotted'), -1, 'still none: the table stays bounded');
    assert.equal(slots.size, MAX_WIRE_SLOTS);
    const f = video(false, 0);
    assert.equal(f.wireFor(slots, 'test:unslotted'), undefined);
    let calls = 0;
    const a = f.encoded(slots, 'test:unslotted', () => { calls++; return Buffer.from('a'); });
    assert.equal(f.encoded(slots, 'test:unslotted', () => { calls++; return Buffer.from('b'); }), a);
    assert.equal(f.wireFor(slots, 'test:unslotted'), a);
    assert.equal(calls, 1);
    assert.equal(f.wire, null, 'no slot array for it');
    assert.equal(f.wireFor(slots, 'test:slot:1'), undefined, 'slotted formats unaffected');
  });

  it('numbers the slots per table: two threads\' tables are independent', () => {
    const [a, b] = [new WireSlots(), new WireSlots()];
    assert.equal(a.slotOf('rtmp:128:1'), 0);
    assert.equal(a.slotOf('flv'), 1);
    assert.equal(b.slotOf('flv'), 0, 'a format new to the other table gets its first slot');
    for (let i = 0; i < MAX_WIRE_SLOTS; i++) {
      a.slotOf(`fill:${i}`);
    }
    assert.equal(a.slotOf('rtmfp:tc'), -1, 'one table full...');
    assert.equal(b.slotOf('rtmfp:tc'), 1, '...the other not');
  });
});

describe('FrameCache', () => {
  it('gives a late joiner metadata, configs, then the GOP from the last keyframe', () => {
    const cache = new FrameCache(true, 1 << 20);
    const vseq = video(true, 0, true);
    const aseq = audio(0, true);
    cache.add(metadata);
    cache.add(vseq);
    cache.add(aseq);
    cache.add(video(true, 0));
    cache.add(audio(10));
    cache.add(video(false, 40));
    const k2 = video(true, 80);
    const a2 = audio(90);
    const p2 = video(false, 120);
    cache.add(k2);
    cache.add(a2);
    cache.add(p2);
    assert.deepEqual(cache.snapshot(), [metadata, vseq, aseq, k2, a2, p2]);
  });

  it('drops a GOP that grows past the limit until the next keyframe, and resets', () => {
    const cache = new FrameCache(true, 20);
    cache.add(video(true, 0));
    cache.add(video(false, 40));
    cache.add(video(false, 80));
    assert.equal(cache.gopFrameCount, 0);
    cache.add(video(false, 120));
    assert.equal(cache.gopFrameCount, 0, 'still waiting for a keyframe');
    cache.add(video(true, 160));
    assert.equal(cache.gopFrameCount, 1);
    cache.reset();
    assert.deepEqual(cache.snapshot(), []);
  });

  it('keeps only configs when the GOP cache is off', () => {
    const cache = new FrameCache(false, 1 << 20);
    const vseq = video(true, 0, true);
    cache.add(vseq);
    cache.add(video(true, 0));
    assert.deepEqual(cache.snapshot(), [vseq]);
  });
});

describe('DropPolicy', () => {
  it('drops while over the limit, resumes at a keyframe, closes after the timeout', () => {
    const p = new DropPolicy(100, 1000);
    assert.equal(p.judge(video(false, 0), 50, true, 0), Verdict.SEND);
    assert.equal(p.judge(video(false, 40), 500, true, 10), Verdict.DROP);
    assert.equal(p.judge(audio(50), 10, true, 20), Verdict.DROP, 'audio waits for the keyframe too');
    assert.equal(p.judge(video(false, 80), 10, true, 30), Verdict.DROP, 'inter frame after drops');
    assert.equal(p.judge(video(true, 0, true), 500, true, 40), Verdict.SEND, 'configs always pass');
    assert.equal(p.judge(video(true, 120), 10, true, 50), Verdict.SEND, 'keyframe resumes');
    assert.equal(p.judge(audio(130), 10, true, 60), Verdict.SEND);
    assert.equal(p.dropped, 3);
    assert.equal(p.judge(video(false, 160), 500, true, 100), Verdict.DROP);
    assert.equal(p.judge(video(false, 200), 500, true, 1200), Verdict.CLOSE);
  });

  it('sends() is true only when judge() would send without changing anything', () => {
    // Two policies fed the same frames: one as the fan-out loop uses it (sends() first, judge()
    // only when it says no), one always through judge(): same verdicts, same drop counts.
    const op = fc.oneof(
      fc.record({
        kind: fc.constantFrom('key', 'inter', 'audio', 'config'),
        queued: fc.constantFrom(0, 99, 100, 101, 5000),
        dt: fc.integer({ min: 0, max: 600 }),
        hasVideo: fc.boolean(),
      }),
      fc.constantFrom('wait', 'reset'),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const fast = new DropPolicy(100, 1000);
        const slow = new DropPolicy(100, 1000);
        let now = 1;
        for (const o of ops) {
          if (o === 'wait' || o === 'reset') {
            for (const p of [fast, slow]) {
              if (o === 'wait') {
                p.waitForKeyframe();
              } else {
                p.reset();
              }
            }
            continue;
          }
          now += o.dt;
          const frame = o.kind === 'key' ? video(true, now) : o.kind === 'inter' ? video(false, now) : o.kind === 'audio' ? audio(now) : video(true, now, true);
          const viaFast = fast.sends(o.queued) ? Verdict.SEND : fast.judge(frame, o.queued, o.hasVideo, now);
          assert.equal(viaFast, slow.judge(frame, o.queued, o.hasVideo, now));
          assert.equal(fast.dropped, slow.dropped);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('resumes an audio-only stream on any audio frame', () => {
    const p = new DropPolicy(100, 0);
    assert.equal(p.judge(audio(0), 500, false, 0), Verdict.DROP);
    assert.equal(p.judge(audio(20), 0, false, 99_999), Verdict.SEND);
  });
});
