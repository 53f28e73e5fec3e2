/**
 * RTMP fan-out to many players, on both write paths of the server (the native batched write,
 * when built, and Node's own socket writes): every player gets the very same bytes, and every
 * payload published in order, including a player that stops reading for a while (its bytes wait
 * in Node behind a partial write), a late joiner (the GOP cache in one batch) and a player that
 * disconnects in the middle (only its session ends).
 */
import assert from 'node:assert/strict';
import { type Hash, createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { NativeSocketIo } from '../../src/kernels/index.js';
import { loadNativeAddon } from '../../src/kernels/native/nativeAddon.js';
import type { Server } from '../../src/Server.js';
import { withTimeout } from '../helpers/ffmpeg.js';
import { sleep, startInProcess } from '../helpers/inProcess.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

const load = loadNativeAddon();
const native = load.addon !== null ? new NativeSocketIo(load.addon) : null;

const PLAYERS = 16;
const TURNS = 40;
const GOP = 10;

interface Media {
  type: number;
  timestamp: number;
  payload: Buffer;
}

interface Player {
  client: RtmpClient;
  /** Audio and video received, payloads kept only as digests (the stream is ~7 MB per player). */
  media: Media[];
  /** SHA-256 of the raw bytes received since `recording` was set, and their count. */
  raw: Hash;
  rawBytes: number;
  recording: boolean;
}

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** What the publisher sends: sequence headers, then TURNS × (video, audio), keyframes every GOP. */
const stream = (): Media[][] => {
  const turns: Media[][] = [[
    { type: 9, timestamp: 0, payload: avcSequenceHeader },
    { type: 8, timestamp: 0, payload: aacSequenceHeader },
  ]];
  for (let i = 0; i < TURNS; i++) {
    const key = i % GOP === 0;
    turns.push([
      // Large keyframes (past the chunk size, and enough to fill a loopback socket that is not read).
      { type: 9, timestamp: i * 40, payload: videoFrame(key, i, key ? 1_500_000 : 20_000 + i * 97) },
      { type: 8, timestamp: i * 40, payload: audioFrame(i) },
    ]);
  }
  return turns;
};

const isConfig = (m: Media): boolean => m.payload.length >= 2 && m.payload[1] === 0;
const configDigests = [digest(avcSequenceHeader), digest(aacSequenceHeader)];
const isConfigDigest = (m: Media): boolean => configDigests.some((d) => d.equals(m.payload));

describe('RTMP fan-out to many players', { timeout: 120_000 }, () => {
  let server: Server;
  let url: (p: string) => string;
  /** Digest of what a player received on each write path. */
  const rawByArm: Record<string, Buffer> = {};

  before(async () => {
    // No frame dropped for the player that stops reading: its queue may grow to the whole stream.
    // On the main thread: the test swaps the main thread's write batch (server.wire: the write paths it compares).
    ({ server, url } = await startInProcess({ 'media.subscriberQueueBytes': String(64 << 20), 'RTMP.workers': '0' }));
  });

  after(async () => {
    server.wire.useFrameBatch(null);
    await server.stop();
  });

  const player = async (name: string): Promise<Player> => {
    const p: Player = {
      // Audio and video only (not |RtmpSampleAccess or metadata).
      client: new RtmpClient({
        onMedia: (type, timestamp, payload) => (type === 8 || type === 9) && p.media.push({ type, timestamp, payload: digest(payload) }),
      }),
      media: [],
      raw: createHash('sha256'),
      rawBytes: 0,
      recording: false,
    };
    await withTimeout(p.client.connect(url('live')), 10_000, 'player connect');
    p.client.socket!.on('data', (d: Buffer) => {
      if (p.recording) {
        p.raw.update(d);
        p.rawBytes += d.length;
      }
    });
    await withTimeout(p.client.play(name), 10_000, 'player play');
    return p;
  };

  const arms = [
    { name: 'native', io: native, skip: native?.batchedTcp === true ? false : 'native batched TCP writes not available (npm run build:native, Linux)' },
    { name: 'node', io: null, skip: false },
  ] as const;

  for (const arm of arms) {
    it(`${arm.name} writes: the same bytes to every player, every payload in order`, { skip: arm.skip }, async () => {
      const batch = server.wire.useFrameBatch(arm.io);
      const name = 'fan';
      const players: Player[] = [];
      const publisher = new RtmpClient();
      let late: Player | null = null;
      try {
        for (let i = 0; i < PLAYERS; i++) {
          players.push(await player(name));
        }
        // The server pings each player at its first 1 s tick after connect, then every 10 s: let
        // that first ping go out before recording, so every player's bytes are the same.
        await sleep(1100);
        const [slow, quitter] = [players[0], players[1]];
        slow.client.socket!.pause();
        for (const p of players) {
          p.recording = true;
        }
        await withTimeout(publisher.connect(url('live')), 10_000, 'publisher connect');
        const id = await withTimeout(publisher.publish(name), 10_000, 'publish');
        const turns = stream();
        let lateFrom = 0;
        for (const [t, frames] of turns.entries()) {
          for (const f of frames) {
            publisher.writeMedia(id, f.type, f.timestamp, f.payload);
          }
          await sleep(3);
          if (t === 5) {
            quitter.client.close();
          }
          if (t === 15) {
            // Joins mid-GOP: the cache holds sequence headers and frames since the keyframe of turn 11.
            lateFrom = 2 * (Math.floor((t - 1) / GOP) * GOP);
            late = await player(name);
          }
        }
        const sent = turns.flat();
        const expectedCount = sent.length;
        const alive = players.filter((p) => p !== quitter && p !== slow);
        await withTimeout((async () => {
          while (alive.some((p) => p.media.length < expectedCount)) {
            await sleep(10);
          }
        })(), 30_000, 'players to receive the stream');
        assert.ok(batch.stats.node + batch.stats.direct > 0);
        if (arm.io !== null) {
          assert.ok(batch.stats.direct > 0, 'frames were written directly');
        } else {
          assert.equal(batch.stats.direct + batch.stats.partial, 0, 'no direct write on the Node path');
        }
        // The slow player's bytes waited in Node (native: behind a partial direct write).
        assert.ok(slow.media.length < expectedCount, 'the paused player was behind');
        slow.client.socket!.resume();
        await withTimeout((async () => {
          while (slow.media.length < expectedCount) {
            await sleep(10);
          }
        })(), 30_000, 'the paused player to catch up');

        for (const p of [...alive, slow]) {
          assert.equal(p.media.length, expectedCount);
          p.media.forEach((m, i) => {
            assert.equal(m.type, sent[i].type, `frame ${i} type`);
            assert.equal(m.timestamp, sent[i].timestamp, `frame ${i} timestamp`);
            assert.ok(m.payload.equals(digest(sent[i].payload)), `frame ${i} payload`);
          });
        }
        const reference = alive[0].raw.digest();
        for (const p of [...alive.slice(1), slow]) {
          assert.equal(p.rawBytes, alive[0].rawBytes);
          assert.ok(p.raw.digest().equals(reference), 'every player received the very same bytes');
        }
        rawByArm[arm.name] = reference;

        // The late joiner: configs first, then everything from the GOP's keyframe on.
        assert.ok(late !== null);
        const lateMedia = late.media.filter((m) => !isConfigDigest(m));
        const tail = sent.slice(2 + lateFrom).filter((m) => !isConfig(m));
        assert.ok(late.media.slice(0, 2).every(isConfigDigest), 'sequence headers first');
        assert.equal(lateMedia.length, tail.length);
        lateMedia.forEach((m, i) => assert.ok(m.payload.equals(digest(tail[i].payload)), `late joiner frame ${i}`));

        // The player that left only ended its own session; the rest are still playing.
        assert.ok(quitter.media.length < expectedCount);
        assert.equal(server.core.clients.size, alive.length + 2 /* slow, late */ + 1 /* publisher */);

      } finally {
        publisher.close();
        for (const p of [...players, ...(late === null ? [] : [late])]) {
          p.client.close();
        }
        for (let i = 0; i < 300 && (server.core.clients.size > 0 || server.core.publications.size > 0); i++) {
          await sleep(10);
        }
      }
    });
  }

  it('both write paths put the same bytes on the wire', { skip: arms[0].skip }, () => {
    assert.ok(rawByArm.native !== undefined && rawByArm.node !== undefined);
    assert.ok(rawByArm.native.equals(rawByArm.node));
  });
});
