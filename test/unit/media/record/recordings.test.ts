/**
 * Recordings (src/media/record): a Recorder is an output of a publication's feed; it starts from
 * the feed's cache when it joins a running publication, rebases timestamps, ends with the
 * publisher; appending continues an FLV file where it ended (a file cut by a crash is cut back to
 * its last complete tag first); the onMetaData duration is set when the file is complete.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeAmf0 } from '../../../../src/amf/index.js';
import { MediaFeed } from '../../../../src/media/MediaFeed.js';
import { FrameKind, MediaFrame } from '../../../../src/media/MediaFrame.js';
import { readFlvEnd } from '../../../../src/media/record/flvEnd.js';
import { Recordings, recordMode } from '../../../../src/media/record/Recordings.js';
import { tempDir } from '../../../helpers/ffmpeg.js';
import { parseFlv } from '../../../helpers/flv.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../../../helpers/synthetic.js';

const limits = { maxQueuedBytes: 1 << 20, timeoutMs: 1000 };
const newFeed = (): MediaFeed => new MediaFeed({ gopCache: true, gopCacheMaxBytes: 1 << 20 }, limits);
const metadata = (duration: number): MediaFrame => new MediaFrame(FrameKind.DATA, 0, encodeAmf0('onMetaData', { duration, width: 320, filesize: 0 }));

/** A second of 25 fps video with audio from `t0`, keyframes every 10 frames. */
const second = (feed: MediaFeed, t0: number): void => {
  for (let i = 0; i < 25; i++) {
    feed.push(new MediaFrame(FrameKind.VIDEO, t0 + i * 40, videoFrame(i % 10 === 0, i)));
    feed.push(new MediaFrame(FrameKind.AUDIO, t0 + i * 40, audioFrame(i)));
  }
};

const waitClosed = async (recordings: Recordings): Promise<void> => recordings.close();

describe('Recordings', () => {
  it('maps NetStream publish types: record, append (appendWithGap), anything else live', () => {
    assert.equal(recordMode('record'), 'record');
    assert.equal(recordMode('append'), 'append');
    assert.equal(recordMode('appendWithGap'), 'append');
    assert.equal(recordMode('live'), null);
    assert.equal(recordMode(undefined), null);
    assert.equal(recordMode('RECORD'), null);
  });

  it('records a running publication from its cache: metadata, configurations, the GOP; times from 0; duration set at the end', async () => {
    const recordings = new Recordings(tempDir());
    const feed = newFeed();
    feed.start();
    feed.push(metadata(0));
    feed.push(new MediaFrame(FrameKind.VIDEO, 0, avcSequenceHeader));
    feed.push(new MediaFrame(FrameKind.AUDIO, 0, aacSequenceHeader));
    second(feed, 60_000);
    const recorder = recordings.record(feed, 'live', 'mid', 'flv');
    assert.equal(feed.outputCount, 1);
    second(feed, 61_000);
    feed.stop();
    assert.equal(feed.outputCount, 0, 'the recorder left with the publisher');
    assert.equal(recorder.running, false);
    await waitClosed(recordings);
    const file = readFileSync(recorder.file);
    const tags = parseFlv(file);
    assert.deepEqual(tags.slice(0, 3).map((t) => t.type), [18, 9, 8]);
    const firstFrame = tags[3];
    assert.equal(firstFrame.type, 9);
    assert.equal(firstFrame.payload[0], 0x17, 'starts at the last keyframe (frame 20 of the GOP cache)');
    assert.equal(firstFrame.payload.readUInt32BE(5), 20);
    assert.equal(firstFrame.timestamp, 0);
    const last = tags.at(-1)!;
    assert.equal(last.timestamp, 61_960 - 60_800);
    const meta = tags[0].payload;
    const durationAt = meta.indexOf(Buffer.from('\u0000\u0008duration\u0000', 'latin1')) + 11;
    assert.equal(meta.readDoubleBE(durationAt), 1.16, 'duration: the last timestamp');
    const filesizeAt = meta.indexOf(Buffer.from('\u0000\u0008filesize\u0000', 'latin1')) + 11;
    assert.equal(meta.readDoubleBE(filesizeAt), file.length);
  });

  it('appends after the last frame, once a recording of the file is done; a second onMetaData is left out', async () => {
    const folder = tempDir();
    const recordings = new Recordings(folder);
    for (const [mode, t0] of [['record', 0], ['append', 5000]] as const) {
      const plan = await recordings.prepare('serial', mode);
      assert.equal(plan.append, mode === 'append');
      const feed = newFeed();
      recordings.start(plan, feed);
      feed.start();
      feed.push(metadata(1));
      feed.push(new MediaFrame(FrameKind.VIDEO, t0, avcSequenceHeader));
      second(feed, t0);
      feed.stop();
    }
    await waitClosed(recordings);
    const tags = parseFlv(readFileSync(join(folder, 'serial.flv')));
    assert.equal(tags.filter((t) => t.type === 18).length, 1);
    const video = tags.filter((t) => t.type === 9 && t.payload[1] === 1).map((t) => t.timestamp);
    assert.equal(video.length, 50);
    assert.equal(video[25], 960 + 40, 'the second part starts one frame after the first ended');
    const end = await readFlvEnd(join(folder, 'serial.flv'));
    assert.equal(end?.nextTimestamp, 1960 + 40);
    const meta = tags[0].payload;
    assert.equal(meta.readDoubleBE(meta.indexOf(Buffer.from('\u0000\u0008duration\u0000', 'latin1')) + 11), 1.96);
  });

  it('appending to a file a crash cut goes on after its last complete tag', async () => {
    const folder = tempDir();
    const recordings = new Recordings(folder);
    const feed = newFeed();
    recordings.start(await recordings.prepare('cut', 'record'), feed);
    feed.start();
    second(feed, 0);
    feed.stop();
    await waitClosed(recordings);
    const file = join(folder, 'cut.flv');
    const complete = statSync(file).size;
    appendFileSync(file, Buffer.from([9, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])); // half a tag
    const end = await readFlvEnd(file);
    assert.deepEqual({ size: end?.size, next: end?.nextTimestamp }, { size: complete, next: 1000 });
    const again = newFeed();
    recordings.start(await recordings.prepare('cut', 'append'), again);
    again.start();
    second(again, 0);
    again.stop();
    await waitClosed(recordings);
    const tags = parseFlv(readFileSync(file));
    assert.equal(tags.length, 100);
    assert.equal(tags[50].timestamp, 1000);
  });

  it('refuses to append to what is not FLV, and a second recording of a file', async () => {
    const folder = tempDir();
    writeFileSync(join(folder, 'text.flv'), 'hello, this is not a video');
    const recordings = new Recordings(folder);
    await assert.rejects(recordings.prepare('text', 'append'), /cannot append to text: not an FLV file/);
    const feed = newFeed();
    recordings.record(feed, 'pub', 'busy', 'ts');
    assert.throws(() => recordings.record(feed, 'pub', 'busy.ts', 'ts'), /busy.ts is being recorded already/);
    await assert.rejects(new Recordings(null).prepare('x', 'record'), /recording is off/);
    await waitClosed(recordings);
  });
});
