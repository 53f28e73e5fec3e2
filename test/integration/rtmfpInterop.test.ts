import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
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
