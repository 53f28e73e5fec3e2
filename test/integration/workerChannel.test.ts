/**
 * The thread boundary carries only exact-size, moved byte arrays (issue 11): with the post check
 * on in both directions, a session that does everything that crosses (handshake DH in the main
 * thread's pool, connect, RPC, publish, play over RTMFP and RTMP, an RTMP socket handed to a worker
 * with its chunk stream's state, NetGroup, close) reports no
 * byte array cloned with more than its own bytes, while a deliberate view of Node's pool is caught.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { MediaChannel } from '../../src/protocols/worker/MediaChannel.js';
import { logLines, sleep } from '../helpers/inProcess.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

const problems = (): string[] => logLines.filter((l) => l.includes('channel post carries'));

describe('worker channel: exact-size moved bytes only', { timeout: 60_000 }, () => {
  let s: RtmfpTestServer;

  before(async () => {
    MediaChannel.checkPosts = true;
    s = await startRtmfpServer({ 'RTMFP.workers': '2', 'RTMP.workers': '2' });
  });

  after(async () => {
    await s.server.stop();
    MediaChannel.checkPosts = false;
  });

  it('a whole session crosses with no cloned slab', async () => {
    const before = problems().length;
    const publisher = new RtmfpClient();
    await publisher.connect(s.rtmfp('live'));
    await assert.rejects(publisher.call('nothere'), /Call.Failed/);
    const id = await publisher.publish('boundary');
    const got: Buffer[] = [];
    const player = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && got.push(Buffer.from(payload)) });
    await player.connect(s.rtmfp('live'));
    await player.play('boundary');
    const rtmpGot: Buffer[] = [];
    const rtmpPlayer = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && rtmpGot.push(Buffer.from(payload)) });
    await rtmpPlayer.connect(s.rtmp('live'));
    await rtmpPlayer.play('boundary');
    player.joinGroup('a group of one');
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    publisher.writeMedia(id, 8, 0, aacSequenceHeader);
    const sent: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const frame = videoFrame(i % 10 === 0, i, i === 0 ? 30_000 : 800);
      sent.push(frame);
      publisher.writeMedia(id, 9, i * 40, frame);
      publisher.writeMedia(id, 8, i * 40, audioFrame(i));
      await sleep(5);
    }
    await until(() => got.length >= 21 && rtmpGot.length >= 21, 10_000, 'frames through the workers');
    assert.deepEqual(got.slice(1), sent);
    assert.deepEqual(rtmpGot.slice(1), sent);
    publisher.close();
    player.close();
    rtmpPlayer.close();
    await sleep(200);
    assert.deepEqual(problems().slice(before), []);
  });

  it('catches a view of a larger buffer', async () => {
    const before = problems().length;
    const handle = s.server.rtmfp!.workers[0];
    // A 5-byte slice of Node's 8 KiB pool, not moved: what structured clone would copy whole.
    handle.post({ op: 'chunk', sid: 0, chunk: Buffer.from('hello') });
    await until(() => problems().length > before, 2000, 'the bad post reported');
    assert.match(problems().at(-1)!, /message\[0\]\.chunk: a 5-byte view of a \d+-byte buffer/);
  });
});
