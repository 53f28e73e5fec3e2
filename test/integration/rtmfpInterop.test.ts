import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RTMFP_CONTENT_OFFSET, rtmfpDatagramLength } from '../../src/kernels/index.js';
import { classifyFlow } from '../../src/protocols/rtmfp/tcMessage.js';
import type { Server } from '../../src/Server.js';
import { sleep } from '../helpers/inProcess.js';
import { startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

/** Return associations of the server's NetStream flows (stream ID ≠ 0) the client currently holds. */
const streamFlowAssociations = (client: RtmfpClient): number[] =>
  [...client.session!.recvFlows.values()]
    .filter((flow) => {
      const kind = classifyFlow(flow.metadata);
      return kind?.kind === 'tc' && kind.streamId !== 0;
    })
    .map((flow) => flow.associatedFlowId);

/**
 * What the independent clients (zenomt/rtmfp-cpp tcconn/tcpublish, MonaSolutions/librtmfp
 * TestClient) need from the server beyond what our own client checks, found by hand interop.
 */
for (const workers of ['0', '2']) {describe(`RTMFP interop with independent clients, RTMFP.workers=${workers}`, { timeout: 60_000 }, () => {
  let server: Server;
  let rtmfpUrl: (path: string) => string;

  before(async () => {
    const started = await startRtmfpServer({ 'RTMFP.workers': workers });
    server = started.server;
    rtmfpUrl = started.rtmfp;
  });

  after(async () => {
    await server.stop();
  });

  it('answers every NetStream flow on the client\'s NetConnection flow (rtmfp-cpp drops others)', async () => {
    const publisher = new RtmfpClient();
    await publisher.connect(rtmfpUrl('live'));
    const id = await publisher.publish('assoc');
    const player = new RtmfpClient({ onMedia: () => undefined });
    await player.connect(rtmfpUrl('live'));
    await player.play('assoc');
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    publisher.writeMedia(id, 8, 0, aacSequenceHeader);
    for (let i = 0; i < 10; i++) {
      publisher.writeMedia(id, 9, i * 40, videoFrame(i === 0, i, 800));
      publisher.writeMedia(id, 8, i * 40, audioFrame(i));
      await sleep(5);
    }
    // Control (statuses), audio and video flows for the player; the control flow for the publisher.
    await until(() => streamFlowAssociations(player).length >= 3, 5000, 'three stream flows to the player');
    const ncFlow = (client: RtmfpClient): number => client.session!.mainFlow()!.id;
    assert.deepEqual(new Set(streamFlowAssociations(player)), new Set([ncFlow(player)]));
    assert.deepEqual(new Set(streamFlowAssociations(publisher)), new Set([ncFlow(publisher)]));
    publisher.close();
    player.close();
  });

  it('gives RFC 7425 HMAC and session sequence numbers to an initiator that requires them (rtmfp-cpp\'s default), Flash profile to the others', async () => {
    const strict = { requirePacketOptions: true };
    const publisher = new RtmfpClient(strict);
    await publisher.connect(rtmfpUrl('live'));
    const id = await publisher.publish('rfc7425');
    const received = { strict: 0, flash: 0 };
    const strictPlayer = new RtmfpClient({ ...strict, onMedia: (type) => type === 9 && received.strict++ });
    const flashPlayer = new RtmfpClient({ onMedia: (type) => type === 9 && received.flash++ });
    for (const player of [strictPlayer, flashPlayer]) {
      await player.connect(rtmfpUrl('live'));
      await player.play('rfc7425');
    }
    // Our side's keys carry the options (a tag and a sequence number lengthen the datagram);
    // the session working at all shows the server checks and sends them too.
    const keysOf = (client: RtmfpClient) => client.session!.keys;
    const plainLength = rtmfpDatagramLength(RTMFP_CONTENT_OFFSET + 40);
    assert.notEqual(publisher.kernels.sealedLength(keysOf(publisher).encryptKey, RTMFP_CONTENT_OFFSET + 40), plainLength);
    assert.equal(flashPlayer.kernels.sealedLength(keysOf(flashPlayer).encryptKey, RTMFP_CONTENT_OFFSET + 40), plainLength);
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    for (let i = 0; i < 30; i++) {
      publisher.writeMedia(id, 9, i * 40, videoFrame(i % 10 === 0, i, 1500));
      await sleep(5);
    }
    await until(() => received.strict >= 25 && received.flash >= 25, 5000, 'video to both players');
    for (const client of [publisher, strictPlayer, flashPlayer]) {
      client.close();
    }
  });

  it('sends no StreamIsRecorded on RTMFP: librtmfp rejects the stream flow and a late publisher is never heard', async () => {
    const events: number[] = [];
    const video: Buffer[] = [];
    const player = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && video.push(Buffer.from(payload)) });
    player.on('userControl', (event: number, _data: Buffer, streamId: number) => streamId !== 0 && events.push(event));
    await player.connect(rtmfpUrl('live'));
    const playId = await player.play('late');
    const publisher = new RtmfpClient();
    await publisher.connect(rtmfpUrl('live'));
    const id = await publisher.publish('late');
    await player.waitStatus(playId, ['NetStream.Play.PublishNotify']);
    publisher.writeMedia(id, 9, 0, avcSequenceHeader);
    publisher.writeMedia(id, 9, 0, videoFrame(true, 0, 800));
    await until(() => video.length >= 2, 5000, 'codec header and keyframe');
    assert.ok(events.includes(0), 'StreamBegin sent');
    assert.ok(!events.includes(4), `user control events on the NetStream: ${events.join(', ')}`);
    publisher.close();
    player.close();
  });
});}
