import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { TC_HEADER_SIZE, TcType, TcUserControl, classifyFlow } from '../../src/protocols/rtmfp/tcMessage.js';
import type { Server } from '../../src/Server.js';
import { sleep } from '../helpers/inProcess.js';
import { startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

/** One message a server flow delivered to the player, in the flow's order. */
type Delivered = { kind: 'sync'; syncId: number; count: number } | { kind: 'media'; type: number; timestamp: number; config: boolean } | { kind: 'other' };

/** The messages of the server's NetStream flows (the player has one NetStream), per flow ID, as a player receives them. */
const recordFlows = (player: RtmfpClient): Map<number, Delivered[]> => {
  const flows = new Map<number, Delivered[]>();
  player.on('flowMessage', (flowId: number, metadata: Buffer, message: Buffer) => {
    const kind = classifyFlow(metadata);
    if (kind?.kind !== 'tc' || kind.streamId === 0 || message.length < TC_HEADER_SIZE) {
      return;
    }
    let list = flows.get(flowId);
    if (list === undefined) {
      list = [];
      flows.set(flowId, list);
    }
    const type = message[0];
    const body = message.subarray(TC_HEADER_SIZE);
    if (type === TcType.USER_CONTROL && body.length >= 10 && body.readUInt16BE(0) === TcUserControl.FLOW_SYNC) {
      list.push({ kind: 'sync', syncId: body.readUInt32BE(2), count: body.readUInt32BE(6) });
    } else if (type === TcType.AUDIO || type === TcType.VIDEO) {
      // (Data messages here are the control half's, as |RtmpSampleAccess: the publishers send no metadata.)
      // Decoder configurations (AVC and AAC sequence headers) go on the control flow.
      const config = body.length >= 2 && body[1] === 0 && (type === TcType.VIDEO ? (body[0] & 0x0f) === 7 : type === TcType.AUDIO && body[0] >> 4 === 10);
      list.push({ kind: 'media', type, timestamp: message.readUInt32BE(1), config });
    } else {
      list.push({ kind: 'other' });
    }
  });
  return flows;
};

/** The syncs the flows got, by syncID: the flows (IDs) that got each and the counts they said. */
const syncs = (flows: Map<number, Delivered[]>): Map<number, { flowIds: number[]; counts: number[] }> => {
  const out = new Map<number, { flowIds: number[]; counts: number[] }>();
  for (const [flowId, list] of flows) {
    for (const m of list) {
      if (m.kind === 'sync') {
        const entry = out.get(m.syncId) ?? { flowIds: [], counts: [] };
        entry.flowIds.push(flowId);
        entry.counts.push(m.count);
        out.set(m.syncId, entry);
      }
    }
  }
  return out;
};

/**
 * Asserts that sync `syncId` reached every flow of `flowIds` (and only those), each saying
 * count = their number, and that on each flow every media message of the publisher that begins
 * at `fromTimestamp` comes after it (and every earlier one before it).
 */
const assertSync = (flows: Map<number, Delivered[]>, syncId: number, flowIds: number[], fromTimestamp: number, untilTimestamp: number): void => {
  const entry = syncs(flows).get(syncId);
  assert.ok(entry !== undefined, `sync ${syncId} received`);
  assert.deepEqual([...entry.flowIds].sort(), [...flowIds].sort(), 'the sync is on each of the stream\'s flows');
  assert.deepEqual(entry.counts, flowIds.map(() => flowIds.length), 'count = the number of synchronized flows');
  for (const flowId of flowIds) {
    const list = flows.get(flowId)!;
    const at = list.findIndex((m) => m.kind === 'sync' && m.syncId === syncId);
    list.forEach((m, i) => {
      if (m.kind === 'media' && m.timestamp >= fromTimestamp && m.timestamp < untilTimestamp) {
        assert.ok(i > at, `flow ${flowId}: media (type ${m.type}, ${m.timestamp} ms) at ${i} after the sync at ${at}`);
      } else if (m.kind === 'media' && m.timestamp < fromTimestamp) {
        assert.ok(i < at, `flow ${flowId}: an earlier publisher's media (${m.timestamp} ms) at ${i} before the sync at ${at}`);
      }
    });
  }
};

/** The flows of `flows` that carried frames (not configurations) of type `type` from `fromTimestamp` on. */
const flowsWith = (flows: Map<number, Delivered[]>, type: number, fromTimestamp: number): number[] =>
  [...flows].filter(([, list]) => list.some((m) => m.kind === 'media' && !m.config && m.type === type && m.timestamp >= fromTimestamp)).map(([id]) => id);

/** Publishes `name` over RTMFP: configs, then `frames` of audio and video from `base` ms. */
const publishFrames = async (publisher: RtmfpClient, id: number, base: number, frames: number): Promise<void> => {
  publisher.writeMedia(id, 9, base, avcSequenceHeader);
  publisher.writeMedia(id, 8, base, aacSequenceHeader);
  for (let i = 0; i < frames; i++) {
    publisher.writeMedia(id, 9, base + i * 40, videoFrame(i % 10 === 0, i, i % 10 === 0 ? 3000 : 600));
    publisher.writeMedia(id, 8, base + i * 40, audioFrame(i));
    await sleep(3);
  }
};

const received = (flows: Map<number, Delivered[]>, type: number, fromTimestamp: number): number =>
  [...flows.values()].flat().filter((m) => m.kind === 'media' && !m.config && m.type === type && m.timestamp >= fromTimestamp).length;

/**
 * Flow Sync (RFC 7425 §5.2, user control 0x22) on the flows of a playing NetStream: the control
 * flow and the audio and video flows get the same syncID with count 3 before their first media,
 * at the play's start, for each new publisher, and when the flows are opened anew.
 */
for (const workers of ['0', '2']) {describe(`RTMFP Flow Sync, RTMFP.workers=${workers}`, { timeout: 60_000 }, () => {
  let server: Server;
  let rtmfpUrl: (path: string) => string;
  let rtmpUrl: (path: string) => string;

  before(async () => {
    const started = await startRtmfpServer({ 'RTMFP.workers': workers });
    server = started.server;
    rtmfpUrl = started.rtmfp;
    rtmpUrl = started.rtmp;
  });

  after(async () => {
    await server.stop();
  });

  it('syncs the control, audio and video flows at play start and again for a new publisher', async () => {
    const player = new RtmfpClient({ onMedia: () => undefined });
    const flows = recordFlows(player);
    const statuses: string[] = [];
    player.on('status', (id: number, info: { code?: string }) => id !== 0 && statuses.push(info.code ?? ''));
    const rtmpEvents: number[] = [];
    const rtmpPlayer = new RtmpClient({ onMedia: () => undefined });
    rtmpPlayer.on('userControl', (event: number) => rtmpEvents.push(event));
    try {
      await player.connect(rtmfpUrl('live'));
      const first = new RtmfpClient();
      await first.connect(rtmfpUrl('live'));
      const firstId = await first.publish('sync');
      await player.play('sync');
      await rtmpPlayer.connect(rtmpUrl('live'));
      await rtmpPlayer.play('sync');
      await publishFrames(first, firstId, 0, 20);
      await until(() => received(flows, 9, 0) >= 20 && received(flows, 8, 0) >= 15, 10_000, 'the first publisher\'s media');

      const audioFlows = flowsWith(flows, 8, 0);
      const videoFlows = flowsWith(flows, 9, 0);
      assert.equal(audioFlows.length, 1, 'audio on one flow');
      assert.equal(videoFlows.length, 1, 'video on one flow');
      assert.notEqual(audioFlows[0], videoFlows[0]);
      const all = syncs(flows);
      assert.equal(all.size, 1, `one sync so far: ${[...all.keys()].join(', ')}`);
      const [syncId] = [...all.keys()];
      const synced = all.get(syncId)!.flowIds;
      assert.equal(synced.length, 3, 'control, audio and video flows');
      assert.ok(synced.includes(audioFlows[0]) && synced.includes(videoFlows[0]));
      const control = synced.find((id) => id !== audioFlows[0] && id !== videoFlows[0])!;
      // The control flow carried the statuses before; the media flows begin with the sync.
      assert.ok(flows.get(control)!.some((m) => m.kind === 'other'), 'statuses on the control flow');
      assert.ok(flows.get(control)!.some((m) => m.kind === 'media' && m.config), 'decoder configurations on the control flow');
      assert.deepEqual(flows.get(audioFlows[0])![0], { kind: 'sync', syncId, count: 3 });
      assert.deepEqual(flows.get(videoFlows[0])![0], { kind: 'sync', syncId, count: 3 });
      assertSync(flows, syncId, synced, 0, 10_000);

      // The publisher goes, another one comes: a new sync on the same flows before its media.
      first.close();
      await until(() => statuses.includes('NetStream.Play.UnpublishNotify'), 5000, 'UnpublishNotify');
      const second = new RtmfpClient();
      await second.connect(rtmfpUrl('live'));
      const secondId = await second.publish('sync');
      await until(() => statuses.lastIndexOf('NetStream.Play.PublishNotify') > statuses.indexOf('NetStream.Play.UnpublishNotify'), 5000, 'PublishNotify of the second publisher');
      await publishFrames(second, secondId, 10_000, 20);
      await until(() => received(flows, 9, 10_000) >= 20 && received(flows, 8, 10_000) >= 15, 10_000, 'the second publisher\'s media');
      const again = [...syncs(flows).keys()].filter((id) => id !== syncId);
      assert.equal(again.length, 1, `one new sync: ${again.join(', ')}`);
      assert.ok(again[0] > syncId, 'a fresh syncID');
      assert.deepEqual(flowsWith(flows, 8, 10_000), audioFlows, 'audio on the same flow');
      assert.deepEqual(flowsWith(flows, 9, 10_000), videoFlows, 'video on the same flow');
      assertSync(flows, again[0], synced, 10_000, Infinity);
      second.close();
      // RTMP players get no Flow Sync.
      assert.ok(!rtmpEvents.includes(TcUserControl.FLOW_SYNC), `RTMP user control events: ${rtmpEvents.join(', ')}`);
    } finally {
      player.close();
      rtmpPlayer.close();
    }
  });

  it('syncs the new media flows of a play started again on the same NetStream', async () => {
    const player = new RtmfpClient({ onMedia: () => undefined });
    const flows = recordFlows(player);
    const publisher = new RtmfpClient();
    try {
      await publisher.connect(rtmfpUrl('live'));
      const id = await publisher.publish('resync');
      await player.connect(rtmfpUrl('live'));
      const playId = await player.play('resync');
      await publishFrames(publisher, id, 0, 10);
      await until(() => received(flows, 9, 0) >= 10 && received(flows, 8, 0) >= 5, 10_000, 'media of the first play');
      const [firstSync] = [...syncs(flows).keys()];
      const firstFlows = syncs(flows).get(firstSync)!.flowIds;

      player.streamCommand(playId, 'closeStream');
      await player.waitStatus(playId, ['NetStream.Play.Stop']);
      player.streamCommand(playId, 'play', 'resync', -2);
      await until(() => syncs(flows).size === 2, 5000, 'a second sync');
      await publishFrames(publisher, id, 5000, 10);
      await until(() => received(flows, 9, 5000) >= 10 && received(flows, 8, 5000) >= 5, 10_000, 'media of the second play');
      const secondSync = [...syncs(flows).keys()].find((s) => s !== firstSync)!;
      assert.ok(secondSync > firstSync, 'a fresh syncID');
      const secondFlows = syncs(flows).get(secondSync)!.flowIds;
      assert.equal(secondFlows.length, 3);
      // The media flows of the first play ended; the control flow stays.
      assert.equal(secondFlows.filter((f) => firstFlows.includes(f)).length, 1, 'only the control flow is the same');
      const audio = flowsWith(flows, 8, 5000);
      const video = flowsWith(flows, 9, 5000);
      assert.ok(audio.length === 1 && secondFlows.includes(audio[0]) && !firstFlows.includes(audio[0]), 'audio on the new audio flow');
      assert.ok(video.length === 1 && secondFlows.includes(video[0]) && !firstFlows.includes(video[0]), 'video on the new video flow');
      assert.deepEqual(flows.get(audio[0])![0], { kind: 'sync', syncId: secondSync, count: 3 });
      assert.deepEqual(flows.get(video[0])![0], { kind: 'sync', syncId: secondSync, count: 3 });
    } finally {
      publisher.close();
      player.close();
    }
  });
});}
