import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { encodeMessage } from '../../src/protocols/rtmp/RtmpChunkWriter.js';
import type { Server } from '../../src/Server.js';
import { waitForLog, sleep, startInProcess, logLines } from '../helpers/inProcess.js';
import { publishSynthetic, type SyntheticPublisher, videoFrame } from '../helpers/synthetic.js';

/**
 * Every case: the offending session is closed with a log line saying why, and a healthy player of
 * another stream keeps receiving frames throughout.
 */
describe('RTMP bad input', { timeout: 90_000 }, () => {
  let server: Server;
  let url: (p: string) => string;
  let port: number;
  let healthyPublisher: RtmpClient;
  let healthySource: SyntheticPublisher;
  let healthyPlayer: RtmpClient;
  let healthyFrames = 0;

  before(async () => {
    ({ server, url, port } = await startInProcess({
      'RTMP.maxMessageSize': '1048576',
      'media.subscriberQueueBytes': '65536',
      'media.subscriberTimeout': '1',
      'RTMP.connectTimeout': '1',
    }));
    healthyPublisher = new RtmpClient();
    await healthyPublisher.connect(url('live'));
    const id = await healthyPublisher.publish('healthy');
    healthySource = publishSynthetic(healthyPublisher, id, { maxFrames: 5000 });
    healthyPlayer = new RtmpClient({ onMedia: (type) => { if (type === 9) { healthyFrames++; } } });
    await healthyPlayer.connect(url('live'));
    await healthyPlayer.play('healthy');
  });

  after(async () => {
    healthySource.stop();
    healthyPublisher.close();
    healthyPlayer.close();
    await server.stop();
  });

  /** The healthy player must get new frames after the attack. */
  const assertHealthyStillFlowing = async (): Promise<void> => {
    const before = healthyFrames;
    await sleep(300);
    assert.ok(healthyFrames > before + 3, `healthy player still receives frames (${before} → ${healthyFrames})`);
    assert.equal(healthyPlayer.closed, false);
  };

  const rawSession = async (): Promise<{ write: (b: Buffer) => void; end: () => void; closed: Promise<void> }> => {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    return { write: (b) => socket.write(b), end: () => socket.destroy(), closed };
  };

  /** A connected RtmpClient, to send bad messages after a proper handshake and connect. */
  const connected = async (): Promise<RtmpClient> => {
    const c = new RtmpClient();
    await c.connect(url('live'));
    return c;
  };

  const closedWithin = (c: RtmpClient, ms = 5000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (c.closed) {
        resolve();
        return;
      }
      const t = setTimeout(() => reject(new Error('session was not closed')), ms);
      c.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });

  it('closes a session that sends random bytes', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await rawSession();
      s.write(Buffer.concat([Buffer.from([3]), randomBytes(1536 + 1536 + 4000)]));
      await Promise.race([s.closed, sleep(3000)]);
    }
    const s = await rawSession();
    s.write(Buffer.from([0x47, 0x45, 0x54, 0x20])); // "GET " is not RTMP version 3
    await s.closed;
    // The level follows the code: malformed input is a warning (4).
    await waitForLog(/^4 \[rtmp\] .*session closed: protocol error.*\(MS_ERR_RTMP_(PROTOCOL|HANDSHAKE)\)/);
    await assertHealthyStillFlowing();
  });

  it('closes a truncated handshake at the connect deadline or when the peer leaves', async () => {
    const baseline = server.rtmp!.sessionCount;
    const leaving = await rawSession();
    leaving.write(Buffer.concat([Buffer.from([3]), randomBytes(700)]));
    const silent = await rawSession();
    silent.write(Buffer.concat([Buffer.from([3]), randomBytes(700)]));
    await sleep(100);
    assert.equal(server.rtmp!.sessionCount, baseline + 2, 'both half-handshaken sessions are open');
    leaving.end();
    await waitForLog(/session closed: connection closed by peer/);
    // The other one never finishes: RTMP.connectTimeout (1 s here) closes it.
    await silent.closed;
    await waitForLog(/^6 \[rtmp\] .*session closed: no connect within 1 s \(RTMP.connectTimeout\) \(MS_ERR_SESSION_TIMEOUT\)/);
    assert.equal(server.rtmp!.sessionCount, baseline);
    await assertHealthyStillFlowing();
  });

  it('closes a session that sets chunk size 0 or 2^31', async () => {
    for (const size of [0, 0x80000000]) {
      const c = await connected();
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(size);
      c.writeRaw(encodeMessage(2, 1, 0, 0, payload, 128));
      await closedWithin(c);
    }
    await waitForLog(/invalid chunk size 0/);
    await waitForLog(/invalid chunk size 2147483648/);
    await assertHealthyStillFlowing();
  });

  it('closes a session that announces a message over RTMP.maxMessageSize', async () => {
    const c = await connected();
    // fmt 0 header on csid 6 declaring a 16 MB video message.
    const header = Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0xf0, 9, 1, 0, 0, 0]);
    c.writeRaw(Buffer.concat([header, randomBytes(128)]));
    await closedWithin(c);
    await waitForLog(/session closed: protocol error: .*(large|size|maxMessageSize)/i);
    await assertHealthyStillFlowing();
  });

  it('closes a session that sends an unknown message type or broken AMF', async () => {
    const c = await connected();
    c.writeRaw(encodeMessage(3, 0x33, 0, 0, randomBytes(20), 128));
    await closedWithin(c);
    await waitForLog(/unknown message type 51/);
    const d = await connected();
    d.writeRaw(encodeMessage(3, 20, 0, 0, Buffer.from([0x02, 0x00, 0x40, 0x41]), 128));
    await closedWithin(d);
    await assertHealthyStillFlowing();
  });

  it('closes a player that never reads, without slowing the publisher or other players', async () => {
    const publisher = await connected();
    const id = await publisher.publish('firehose');
    const stalled = new RtmpClient({ polite: false });
    await stalled.connect(url('live'));
    await stalled.play('firehose');
    stalled.socket!.pause();
    let goodFrames = 0;
    const good = new RtmpClient({ onMedia: (type) => { if (type === 9) { goodFrames++; } } });
    await good.connect(url('live'));
    await good.play('firehose');
    const source = publishSynthetic(publisher, id, { videoSize: 60_000, intervalMs: 10, maxFrames: 1500 });
    await waitForLog(/^6 \[rtmp\] .*session closed: subscriber too slow.*\(MS_ERR_SUBSCRIBER_TOO_SLOW\)/, 20_000);
    const seen = goodFrames;
    await sleep(300);
    assert.ok(goodFrames > seen, 'the reading player keeps receiving');
    source.stop();
    publisher.close();
    good.close();
    stalled.close();
    await assertHealthyStillFlowing();
  });

  it('unpublishes a publisher that vanishes mid-frame and tells its players', async () => {
    const publisher = await connected();
    const id = await publisher.publish('vanish');
    const player = await connected();
    const sid = await player.play('vanish');
    publishSynthetic(publisher, id, { maxFrames: 10, intervalMs: 5 });
    await sleep(200);
    // Half of a 50 kB frame, then the TCP connection dies.
    const frame = encodeMessage(6, 9, id, 1000, videoFrame(true, 99, 50_000), 4096);
    publisher.writeRaw(frame.subarray(0, 20_000));
    await sleep(50);
    publisher.socket!.destroy();
    await player.waitStatus(sid, ['NetStream.Play.UnpublishNotify']);
    assert.equal(server.core.publication('vanish')?.running ?? false, false);
    player.close();
    await sleep(50);
    assert.equal(server.core.publication('vanish'), undefined, 'nothing left behind');
    await assertHealthyStillFlowing();
  });

  it('keeps no sessions or publications from the attacks', async () => {
    await sleep(200);
    const names = [...server.core.publications.keys()];
    assert.deepEqual(names, ['healthy']);
    assert.ok(server.rtmp!.sessionCount <= 3, `sessions left: ${server.rtmp!.sessionCount}\n${logLines.slice(-10).join('\n')}`);
  });
});
