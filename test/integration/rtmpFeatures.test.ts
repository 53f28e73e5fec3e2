import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AmfEcmaArray, decodeAmf0, encodeAmf0 } from '../../src/amf/index.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { encodeMessage } from '../../src/protocols/rtmp/RtmpChunkWriter.js';
import type { Server } from '../../src/Server.js';
import { sleep, startInProcess } from '../helpers/inProcess.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

interface Received {
  type: number;
  timestamp: number;
  payload: Buffer;
}

const player = (): { client: RtmpClient; got: Received[] } => {
  const got: Received[] = [];
  const client = new RtmpClient({ onMedia: (type, timestamp, payload) => got.push({ type, timestamp, payload: Buffer.from(payload) }) });
  return { client, got };
};

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await sleep(10);
  }
};

/** One FLV tag as it appears inside an aggregate message. */
const flvTag = (type: number, timestamp: number, body: Buffer): Buffer => {
  const header = Buffer.alloc(11);
  header[0] = type;
  header.writeUIntBE(body.length, 1, 3);
  header.writeUIntBE(timestamp & 0xffffff, 4, 3);
  header[7] = timestamp >>> 24;
  const back = Buffer.alloc(4);
  back.writeUInt32BE(11 + body.length);
  return Buffer.concat([header, body, back]);
};

describe('RTMP features', { timeout: 60_000 }, () => {
  let server: Server;
  let url: (p: string) => string;

  before(async () => {
    ({ server, url } = await startInProcess());
  });

  after(async () => {
    await server.stop();
  });

  it('stores @setDataFrame metadata and sends it to players as an AMF0 onMetaData', async () => {
    const pub = new RtmpClient();
    await pub.connect(url('live'));
    const id = await pub.publish('meta');
    const meta = new AmfEcmaArray({ width: 320, height: 240, encoder: 'test' });
    pub.writeMedia(id, 18, 0, encodeAmf0('@setDataFrame', 'onMetaData', meta));
    await until(() => server.core.publication('meta')?.properties !== null);
    assert.deepEqual(server.core.publication('meta')!.properties, { width: 320, height: 240, encoder: 'test' });
    const { client, got } = player();
    await client.connect(url('live'));
    await client.play('meta');
    await until(() => got.some((g) => g.type === 18 && decodeAmf0(g.payload)[0] === 'onMetaData'));
    const data = got.find((g) => g.type === 18 && decodeAmf0(g.payload)[0] === 'onMetaData')!;
    const [, body] = decodeAmf0(data.payload);
    assert.ok(body instanceof AmfEcmaArray);
    assert.equal(body.entries.width, 320);
    const access = got.find((g) => g.type === 18 && decodeAmf0(g.payload)[0] === '|RtmpSampleAccess');
    assert.ok(access, '|RtmpSampleAccess sent on play');
    pub.close();
    client.close();
  });

  it('unpacks aggregate messages into frames with rebased timestamps', async () => {
    const pub = new RtmpClient();
    await pub.connect(url('live'));
    const id = await pub.publish('agg');
    const { client, got } = player();
    await client.connect(url('live'));
    await client.play('agg');
    const aggregate = Buffer.concat([
      flvTag(9, 5000, avcSequenceHeader),
      flvTag(9, 5000, videoFrame(true, 1)),
      flvTag(8, 5010, audioFrame(2)),
      flvTag(9, 5040, videoFrame(false, 3)),
    ]);
    pub.writeRaw(encodeMessage(6, 22, id, 1000, aggregate, 4096));
    await until(() => got.filter((g) => g.type !== 18).length >= 4);
    const media = got.filter((g) => g.type !== 18);
    assert.deepEqual(media.map((g) => [g.type, g.timestamp]), [[9, 1000], [9, 1000], [8, 1010], [9, 1040]]);
    assert.ok(media[3].payload.equals(videoFrame(false, 3)));
    pub.close();
    client.close();
  });

  it('passes Enhanced RTMP (FourCC) video through and gives late joiners its sequence start', async () => {
    const pub = new RtmpClient();
    await pub.connect(url('live'), { fourCcList: ['hvc1', 'av01'] });
    assert.deepEqual(pub.serverProperties.fourCcList, ['hvc1', 'av01'], 'the server says it takes these codecs');
    const id = await pub.publish('hevc');
    const seqStart = Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), Buffer.from('01020304', 'hex')]);
    const key = Buffer.concat([Buffer.from([0x91]), Buffer.from('hvc1'), Buffer.from('000000aabbcc', 'hex')]);
    const inter = Buffer.concat([Buffer.from([0xa3]), Buffer.from('hvc1'), Buffer.from('ddeeff', 'hex')]);
    pub.writeMedia(id, 9, 0, seqStart);
    pub.writeMedia(id, 9, 0, key);
    pub.writeMedia(id, 9, 40, inter);
    await until(() => (server.core.publication('hevc')?.frames ?? 0) >= 3);
    const { client, got } = player();
    await client.connect(url('live'));
    await client.play('hevc');
    await until(() => got.filter((g) => g.type === 9).length >= 3);
    const video = got.filter((g) => g.type === 9).map((g) => g.payload);
    assert.ok(video[0].equals(seqStart) && video[1].equals(key) && video[2].equals(inter));
    pub.close();
    client.close();
  });

  it('honours pause, receiveVideo and receiveAudio, and resumes video at a keyframe', async () => {
    const pub = new RtmpClient();
    await pub.connect(url('live'));
    const id = await pub.publish('ctl');
    pub.writeMedia(id, 9, 0, avcSequenceHeader);
    pub.writeMedia(id, 8, 0, aacSequenceHeader);
    const { client, got } = player();
    await client.connect(url('live'));
    const sid = await client.play('ctl');
    let t = 0;
    const send = (key: boolean): void => {
      t += 40;
      pub.writeMedia(id, 9, t, videoFrame(key, t));
      pub.writeMedia(id, 8, t, audioFrame(t));
    };
    send(true);
    await until(() => got.some((g) => g.type === 8 && g.payload[1] === 1));
    client.streamCommand(sid, 'receiveVideo', false);
    await sleep(100);
    got.length = 0;
    send(false);
    await until(() => got.some((g) => g.type === 8));
    assert.equal(got.filter((g) => g.type === 9).length, 0, 'no video while receiveVideo is false');
    client.streamCommand(sid, 'receiveVideo', true);
    await sleep(100);
    got.length = 0;
    send(false);
    send(true);
    await until(() => got.some((g) => g.type === 9));
    assert.equal(got.find((g) => g.type === 9)!.payload[0], 0x17, 'video resumes at a keyframe');
    client.streamCommand(sid, 'pause', true);
    await client.waitStatus(sid, ['NetStream.Pause.Notify']);
    got.length = 0;
    send(true);
    await sleep(150);
    assert.equal(got.length, 0, 'nothing while paused');
    client.streamCommand(sid, 'pause', false);
    await client.waitStatus(sid, ['NetStream.Unpause.Notify']);
    client.streamCommand(sid, 'receiveAudio', false);
    await sleep(100);
    send(false);
    send(true);
    await until(() => got.some((g) => g.type === 9));
    assert.equal(got.filter((g) => g.type === 8).length, 0, 'no audio while receiveAudio is false');
    pub.close();
    client.close();
  });

  it('unpublishes on deleteStream and FCUnpublish answers', async () => {
    const pub = new RtmpClient();
    await pub.connect(url('live'));
    await pub.call('releaseStream', null, 'del');
    const id = await pub.publish('del');
    assert.equal(server.core.publication('del')?.running, true);
    const fcun = new Promise<unknown[]>((resolve) => pub.on('invoke', (name: string, args: unknown[]) => name === 'onFCUnpublish' && resolve(args)));
    pub.streamCommand(0, 'FCUnpublish', 'del');
    assert.deepEqual(await fcun, [{ code: 'NetStream.Unpublish.Success', description: 'del' }]);
    pub.streamCommand(0, 'deleteStream', id);
    await until(() => server.core.publication('del') === undefined);
    pub.close();
  });

  it('speaks AMF3 command messages (type 17) with objectEncoding 3 clients, both ways', async () => {
    const pub = new RtmpClient({ objectEncoding: 3 });
    const info = await pub.connect(url('live'));
    assert.equal(info.objectEncoding, 3);
    const id = await pub.publish('amf3');
    assert.equal(server.core.publication('amf3')?.running, true);
    const { client, got } = player();
    await client.connect(url('live'));
    await client.play('amf3');
    pub.writeMedia(id, 9, 0, videoFrame(true, 1));
    await until(() => got.some((g) => g.type === 9));
    pub.close();
    client.close();
  });

  it('answers a client ping request with a ping response', async () => {
    const c = new RtmpClient();
    await c.connect(url('live'));
    const pong = new Promise<Buffer>((resolve) => c.on('userControl', (event: number, data: Buffer) => event === 7 && resolve(data)));
    const ping = Buffer.alloc(6);
    ping.writeUInt16BE(6, 0);
    ping.writeUInt32BE(123456, 2);
    c.writeRaw(encodeMessage(2, 4, 0, 0, ping, 4096));
    assert.equal((await pong).readUInt32BE(0), 123456);
    c.close();
  });
});
