/**
 * Per-client traffic of RTMP and RTMFP sessions in the stats API (`/api/v1/clients`) and the
 * scripts' QOS, wherever the sessions' data halves run: on the main thread (workers = 0) or in
 * media workers (workers = 2, RTMP sessions handed over after connect, RTMFP sessions on the
 * workers' sockets). The API's bytes must match what the test clients counted on their own
 * sockets, and RTMFP's lostRate must show loss through a lossy path and none without.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { loadSocketHandover } from '../../src/kernels/index.js';
import { ScriptApi } from '../../src/scripting/ScriptApi.js';
import type { Server } from '../../src/Server.js';
import { sleep, startInProcess } from '../helpers/inProcess.js';
import { LossyProxy } from '../helpers/lossyProxy.js';
import { until } from '../helpers/rtmfpServer.js';
import { freePort } from '../helpers/serverProcess.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, publishSynthetic, videoFrame } from '../helpers/synthetic.js';
import { freeUdpPort } from '../helpers/udp.js';

const handover = typeof loadSocketHandover() !== 'string';

interface ApiClient {
  id: string;
  protocol: string;
  address: string;
  bytesReceived: number;
  bytesSent: number;
  lostRate: number;
}

const apiClients = async (server: Server): Promise<ApiClient[]> =>
  (await (await fetch(`http://127.0.0.1:${server.http!.boundPort}/api/v1/clients`)).json()) as ApiClient[];

/** What a test client counted on its socket: bytes it sent (the server's received) and got (the server's sent). */
interface Counted {
  sent: number;
  received: number;
}

/** Within 10 % of what the client counted, plus `overhead` bytes (what one side counts and the other does not). */
const close = (server: number, client: number, overhead: number): boolean => Math.abs(server - client) <= client * 0.1 + overhead;

/**
 * Waits (reports come once a second) until the API's numbers for each client match its own
 * counts closely (1 %: the media is over, the last report is what stays), then asserts them
 * within the sane margin (a failure says which differ, and by how much).
 */
const expectTraffic = async (server: Server, clients: { label: string; find: (c: ApiClient) => boolean; counted: () => Counted }[], overhead: number): Promise<ApiClient[]> => {
  let listed: ApiClient[] = [];
  const matches = (): boolean =>
    clients.every(({ find, counted }) => {
      const api = listed.find(find);
      const own = counted();
      const near = (a: number, b: number): boolean => Math.abs(a - b) <= b * 0.01 + overhead;
      return api !== undefined && near(api.bytesReceived, own.sent) && near(api.bytesSent, own.received);
    });
  const deadline = Date.now() + 6000;
  do {
    await sleep(250);
    listed = await apiClients(server);
  } while (!matches() && Date.now() < deadline);
  const found: ApiClient[] = [];
  for (const { label, find, counted } of clients) {
    const api = listed.find(find);
    assert.ok(api !== undefined, `${label} listed in /api/v1/clients`);
    const own = counted();
    assert.ok(close(api.bytesReceived, own.sent, overhead), `${label}: the server received ${api.bytesReceived} bytes, the client sent ${own.sent}`);
    assert.ok(close(api.bytesSent, own.received, overhead), `${label}: the server sent ${api.bytesSent} bytes, the client received ${own.received}`);
    found.push(api);
  }
  return found;
};

const rtmpCounted = (client: RtmpClient) => (): Counted => ({ sent: client.socket!.bytesWritten, received: client.socket!.bytesRead });
const rtmpAddress = (client: RtmpClient) => (c: ApiClient): boolean => c.protocol === 'RTMP' && c.address === `127.0.0.1:${client.socket!.localPort}`;

for (const workers of ['2', '0']) {
  describe(`client traffic: RTMP.workers=${workers}`, { timeout: 60_000, skip: workers !== '0' && !handover ? 'no socket handover without the native addon' : false }, () => {
    let server: Server;
    let url: (path: string) => string;

    before(async () => {
      ({ server, url } = await startInProcess({ 'HTTP.port': String(await freePort()), 'RTMP.workers': workers }));
    });

    after(async () => {
      await server.stop();
    });

    it('shows what an RTMP publisher sent and an RTMP player received, byte for byte, lostRate 0', async () => {
      const publisher = new RtmpClient();
      await publisher.connect(url('live'));
      const id = await publisher.publish('traffic');
      let got = 0;
      const player = new RtmpClient({ onMedia: (type, _t, payload) => type === 9 && (got += payload.length) });
      await player.connect(url('live'));
      await player.play('traffic');
      if (workers !== '0') {
        assert.equal(server.rtmp!.localCount, 0, 'both sessions on media workers');
      }
      // 3 s of 25 fps video (4 KB frames, a keyframe a second) and audio.
      const media = publishSynthetic(publisher, id, { videoSize: 4000, maxFrames: 75 });
      await until(() => media.sent >= 75, 10_000, 'media sent');
      await until(() => got >= 75 * 4000, 10_000, 'media received');
      const [pub, play] = await expectTraffic(
        server,
        [
          { label: 'publisher', find: rtmpAddress(publisher), counted: rtmpCounted(publisher) },
          { label: 'player', find: rtmpAddress(player), counted: rtmpCounted(player) },
        ],
        // TCP: both ends count the same bytes (a ping or an ack may be on its way).
        256,
      );
      assert.ok(pub.bytesReceived > 75 * 4000, `the publisher's media counted (${pub.bytesReceived})`);
      assert.ok(play.bytesSent > 75 * 4000, `the player's media counted (${play.bytesSent})`);
      assert.equal(pub.lostRate, 0);
      assert.equal(play.lostRate, 0);
      publisher.close();
      player.close();
    });
  });
}

/** Writes `frames` frames (25 fps, 4 KB video, a keyframe a second) on an RTMFP publisher's stream. */
const publishRtmfp = async (publisher: RtmfpClient, id: number, frames: number, until: () => boolean = () => false): Promise<void> => {
  publisher.writeMedia(id, 9, 0, avcSequenceHeader);
  publisher.writeMedia(id, 8, 0, aacSequenceHeader);
  for (let i = 0; i < frames && !until(); i++) {
    publisher.writeMedia(id, 9, i * 40, videoFrame(i % 25 === 0, i, 4000));
    publisher.writeMedia(id, 8, i * 40, audioFrame(i));
    await sleep(40);
  }
};

const rtmfpCounted = (client: RtmfpClient) => (): Counted => client.traffic;
const rtmfpPeer = (client: RtmfpClient) => (c: ApiClient): boolean => c.protocol === 'RTMFP' && c.id === client.peerId;

for (const workers of ['0', '2']) {
  describe(`client traffic: RTMFP.workers=${workers}`, { timeout: 90_000 }, () => {
    let server: Server;
    let port: number;

    before(async () => {
      port = await freeUdpPort();
      ({ server } = await startInProcess({ 'HTTP.port': String(await freePort()), 'RTMFP.port': String(port), 'RTMFP.workers': workers }));
    });

    after(async () => {
      await server.stop();
    });

    /** Where a client reaches the sessions' socket: the front door, or worker 0 (which answers handshakes itself). */
    const sessionPort = (): number => (workers === '0' ? port : server.rtmfp!.workers.find((w) => w.index === 0)!.port);

    it('shows what an RTMFP publisher sent and an RTMFP player received, lostRate 0 without loss', async () => {
      const publisher = new RtmfpClient();
      await publisher.connect(`rtmfp://127.0.0.1:${port}/live`);
      const id = await publisher.publish('traffic');
      let got = 0;
      const player = new RtmfpClient({ onMedia: (type, _t, payload) => type === 9 && (got += payload.length) });
      await player.connect(`rtmfp://127.0.0.1:${port}/live`);
      await player.play('traffic');
      if (workers !== '0') {
        assert.notEqual(publisher.session!.address.port, port, 'the publisher is served by a media worker');
        assert.notEqual(player.session!.address.port, port, 'the player is served by a media worker');
      }
      await publishRtmfp(publisher, id, 75);
      await until(() => got >= 75 * 4000, 10_000, 'media received');
      const [pub, play] = await expectTraffic(
        server,
        [
          { label: 'publisher', find: rtmfpPeer(publisher), counted: rtmfpCounted(publisher) },
          { label: 'player', find: rtmfpPeer(player), counted: rtmfpCounted(player) },
        ],
        // The client counts its handshake datagrams too (a redirection and a keying exchange),
        // and the last ack or keepalive may be on its way.
        4096,
      );
      assert.ok(pub.bytesReceived > 75 * 4000, `the publisher's media counted (${pub.bytesReceived})`);
      assert.ok(play.bytesSent > 75 * 4000, `the player's media counted (${play.bytesSent})`);
      assert.equal(pub.lostRate, 0, 'nothing lost on loopback (publisher)');
      assert.equal(play.lostRate, 0, 'nothing lost on loopback (player)');
      publisher.close();
      player.close();
    });

    it('shows a lostRate above 0 through a lossy path, both ways, in the API and the scripts\' QOS', async () => {
      const proxy = new LossyProxy({ host: '127.0.0.1', port: sessionPort() }, 0.15, 777);
      const proxyPort = await proxy.start();
      try {
        const publisher = new RtmfpClient();
        await publisher.connect(`rtmfp://127.0.0.1:${proxyPort}/live`);
        const id = await publisher.publish('lossy');
        const player = new RtmfpClient();
        await player.connect(`rtmfp://127.0.0.1:${proxyPort}/live`);
        await player.play('lossy');
        let listed: ApiClient[] = [];
        const lossSeen = (): boolean => [rtmfpPeer(publisher), rtmfpPeer(player)].every((find) => (listed.find(find)?.lostRate ?? 0) > 0);
        const polling = (async () => {
          const deadline = Date.now() + 20_000;
          while (!lossSeen() && Date.now() < deadline) {
            await sleep(500);
            listed = await apiClients(server);
          }
        })();
        // Media until the API shows the loss on both sessions (at most 15 s of it).
        await publishRtmfp(publisher, id, 375, lossSeen);
        await polling;
        const pub = listed.find(rtmfpPeer(publisher));
        const play = listed.find(rtmfpPeer(player));
        assert.ok(pub !== undefined && play !== undefined, 'both listed');
        // Server side: the player's media fragments lost on the way (NAKed, abandoned); the
        // publisher's that never arrived (its forward sequence number skipped them).
        assert.ok(play.lostRate > 0 && play.lostRate < 0.5, `player lostRate ${play.lostRate}`);
        assert.ok(pub.lostRate > 0 && pub.lostRate < 0.5, `publisher lostRate ${pub.lostRate}`);
        assert.ok(proxy.dropped > 0, 'the proxy dropped datagrams');
        // Bytes still counted (what the proxy dropped or duplicated makes the ends differ a little).
        assert.ok(pub.bytesReceived > 0 && play.bytesSent > 0);
        // Scripts: a publication's QOS carries its publisher's lostRate, a listener's its client's.
        const api = new ScriptApi(server.core, server.config, { list: () => [] });
        const publication = server.core.publication('lossy')!;
        assert.equal(api.qos(publication, 'video').lostRate, publication.publisher!.traffic.lostRate);
        assert.ok(api.qos(publication, 'video').lostRate > 0, 'the loss of the last seconds');
        const listener = [...publication.listeners][0];
        assert.equal(api.qos(publication, 'video', listener.client).lostRate, listener.client!.traffic.lostRate);
        assert.equal(api.qos(null, null, listener.client).lostRate, listener.client!.traffic.lostRate);
        publisher.close();
        player.close();
        // The closes and their answers (repeated a few ticks) pass before the proxy goes: it
        // must not hold delayed datagrams for a closed socket.
        await sleep(600);
      } finally {
        proxy.close();
      }
    });
  });
}
