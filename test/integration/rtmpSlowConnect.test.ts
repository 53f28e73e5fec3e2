/**
 * A client that does not wait for a slow hook, with RTMP sessions handed to media workers: while
 * `connect` (or `publish`) waits on its hook the session stops reading, yet the client's next
 * commands are on their way (ffmpeg sends releaseStream, FCPublish and createStream right behind
 * `connect`) and Node reads them ahead into its buffer. When the session then moves to a worker,
 * every byte after the handover point must reach it exactly once, in order, with the chunk
 * reader's state (chunk size, each chunk stream's last header, a half-read message), and the
 * commands queued behind the hook must still be answered in order.
 *
 * ffmpeg against ffmpeg byte for byte; a raw client whose bytes are cut at chosen points (part
 * parsed on the main thread, part waiting in Node's buffer while reading is paused, part sent
 * after the handover), with fmt 1 headers that inherit their stream id from before the cut.
 */
import assert from 'node:assert/strict';
import { type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AmfReader, encodeAmf0 } from '../../src/amf/index.js';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Client } from '../../src/core/Client.js';
import type { Publication } from '../../src/core/Publication.js';
import { DefaultHooks } from '../../src/core/ServerHooks.js';
import { loadSocketHandover } from '../../src/kernels/index.js';
import { RtmpChunkReader } from '../../src/protocols/rtmp/RtmpChunkReader.js';
import { encodeMessage, setChunkSize } from '../../src/protocols/rtmp/RtmpChunkWriter.js';
import { RtmpClientHandshake } from '../../src/protocols/rtmp/RtmpHandshake.js';
import { MessageType } from '../../src/protocols/rtmp/constants.js';
import type { Server } from '../../src/Server.js';
import { ffmpegPlay, ffmpegPublish, hasFfmpeg, makeTestFlv, tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { assertSamePayloads, readFlv } from '../helpers/flv.js';
import { logLines, sleep, startInProcess, waitForLog } from '../helpers/inProcess.js';
import { until } from '../helpers/rtmfpServer.js';
import { aacSequenceHeader, audioFrame, avcSequenceHeader, videoFrame } from '../helpers/synthetic.js';

const handover = typeof loadSocketHandover() !== 'string';
const HOOK_MS = 300;

/** onConnection answers after HOOK_MS; onPublish too for names starting with "slowpub". */
class SlowHooks extends DefaultHooks {
  override async onConnection(_client: Client): Promise<undefined> {
    await sleep(HOOK_MS);
    return undefined;
  }

  override async onPublish(_client: Client, publication: Publication): Promise<void> {
    if (publication.name.startsWith('slowpub')) {
      await sleep(HOOK_MS);
    }
  }
}

const COMMAND_CSID = 3;
const STREAM_CSID = 8;
const AUDIO_CSID = 4;
const VIDEO_CSID = 6;

/** One message with a fmt 1 first chunk (stream id inherited from the csid's last header), fmt 3 after. */
const fmt1Message = (csid: number, type: number, delta: number, payload: Buffer, chunkSize: number): Buffer => {
  const head = Buffer.alloc(8);
  head[0] = (1 << 6) | csid;
  head.writeUIntBE(delta, 1, 3);
  head.writeUIntBE(payload.length, 4, 3);
  head[7] = type;
  const parts: Buffer[] = [head];
  for (let at = 0; at < payload.length; at += chunkSize) {
    if (at > 0) {
      parts.push(Buffer.from([(3 << 6) | csid]));
    }
    parts.push(payload.subarray(at, at + chunkSize));
  }
  return Buffer.concat(parts);
};

interface Received {
  streamId: number;
  values: unknown[];
}

/** A client made of bytes: the handshake, then whatever the test writes; commands it receives are kept. */
class RawRtmp {
  readonly commands: Received[] = [];
  closed = false;
  private readonly reader = new RtmpChunkReader((msg) => {
    if (msg.type === MessageType.SET_CHUNK_SIZE) {
      this.reader.chunkSize = msg.payload.readUInt32BE(0);
    } else if (msg.type === MessageType.COMMAND_AMF0) {
      this.commands.push({ streamId: msg.streamId, values: new AmfReader(msg.payload, 0).readAllAmf0() });
    }
  });

  private constructor(readonly socket: Socket) {}

  static async open(port: number): Promise<RawRtmp> {
    const socket = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawRtmp(socket);
    const handshake = new RtmpClientHandshake();
    let done = false;
    const handshaken = new Promise<void>((resolve) => {
      socket.on('data', (data: Buffer) => {
        if (!done) {
          const step = handshake.push(data);
          if (step.send !== null) {
            socket.write(step.send);
          }
          if (!step.done) {
            return;
          }
          done = true;
          resolve();
          if (step.rest === null) {
            return;
          }
          data = step.rest;
        }
        raw.reader.push(data);
      });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      raw.closed = true;
    });
    socket.write(handshake.start());
    await handshaken;
    return raw;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The first command received named `name` (with transaction `transaction` when given). */
  async waitFor(name: string, transaction?: number, ms = 10_000): Promise<Received> {
    const find = (): Received | undefined =>
      this.commands.find((c) => c.values[0] === name && (transaction === undefined || c.values[1] === transaction));
    await until(() => find() !== undefined || this.closed, ms, `${name} ${transaction ?? ''} (got ${this.commands.map((c) => String(c.values[0])).join(', ')})`);
    const found = find();
    assert.ok(found !== undefined, `connection closed before ${name} ${transaction ?? ''} arrived`);
    return found;
  }

  /** The onStatus codes received, in order. */
  get statuses(): string[] {
    return this.commands.filter((c) => c.values[0] === 'onStatus').map((c) => (c.values[3] as { code: string }).code);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What FMLE and ffmpeg send before they publish, each as its own message (chunked at `chunkSize`). */
const publishCommands = (port: number, name: string, chunkSize: number) => {
  const connect = encodeMessage(COMMAND_CSID, MessageType.COMMAND_AMF0, 0, 0, encodeAmf0('connect', 1, {
    app: 'live',
    type: 'nonprivate',
    flashVer: 'FMLE/3.0 (compatible; raw test client)',
    tcUrl: `rtmp://127.0.0.1:${port}/live`,
    swfUrl: `rtmp://127.0.0.1:${port}/live`,
  }), 128);
  const command = (payload: Buffer): Buffer => fmt1Message(COMMAND_CSID, MessageType.COMMAND_AMF0, 0, payload, chunkSize);
  return {
    connect,
    chunkSize: setChunkSize(chunkSize),
    releaseStream: command(encodeAmf0('releaseStream', 2, null, name)),
    fcPublish: command(encodeAmf0('FCPublish', 3, null, name)),
    createStream: command(encodeAmf0('createStream', 4, null)),
    publish: encodeMessage(STREAM_CSID, MessageType.COMMAND_AMF0, 1, 0, encodeAmf0('publish', 5, null, name, 'live'), chunkSize),
  };
};

/** Media for NetStream 1: sequence headers with fmt 0, then frames with fmt 1 headers on the same csids. */
const mediaBytes = (chunkSize: number, frames: number): { bytes: Buffer; video: Buffer[]; audio: Buffer[] } => {
  const video: Buffer[] = [avcSequenceHeader];
  const audio: Buffer[] = [aacSequenceHeader];
  const parts = [
    encodeMessage(VIDEO_CSID, MessageType.VIDEO, 1, 0, avcSequenceHeader, chunkSize),
    encodeMessage(AUDIO_CSID, MessageType.AUDIO, 1, 0, aacSequenceHeader, chunkSize),
  ];
  for (let i = 0; i < frames; i++) {
    const v = videoFrame(i % 10 === 0, i, 1500 + 37 * i);
    const a = audioFrame(i);
    video.push(v);
    audio.push(a);
    parts.push(fmt1Message(VIDEO_CSID, MessageType.VIDEO, i === 0 ? 0 : 40, v, chunkSize));
    parts.push(fmt1Message(AUDIO_CSID, MessageType.AUDIO, i === 0 ? 0 : 40, a, chunkSize));
  }
  return { bytes: Buffer.concat(parts), video, audio };
};

/** An RTMP player of `name` (connected and playing) keeping copies of every audio and video payload. */
const startPlayer = async (url: string, name: string): Promise<{ client: RtmpClient; video: Buffer[]; audio: Buffer[] }> => {
  const video: Buffer[] = [];
  const audio: Buffer[] = [];
  const client = new RtmpClient({
    onMedia: (type, _t, payload) => {
      if (type === MessageType.VIDEO) {
        video.push(Buffer.from(payload));
      } else if (type === MessageType.AUDIO) {
        audio.push(Buffer.from(payload));
      }
    },
  });
  await client.connect(url);
  await client.play(name);
  return { client, video, audio };
};

const protocolErrors = (): string[] => logLines.filter((l) => /protocol error|unknown message type|MS_ERR_RTMP/.test(l));

describe('RTMP behind slow hooks, sessions handed to media workers', { timeout: 120_000, skip: handover ? false : 'no socket handover without the native addon' }, () => {
  const hooks = new SlowHooks();
  let server: Server;
  let port: number;
  let url: (path: string) => string;
  /** Protocol errors logged before the running test. */
  let errorsBefore = 0;

  before(async () => {
    ({ server, port, url } = await startInProcess({}, hooks));
  });

  beforeEach(() => {
    errorsBefore = protocolErrors().length;
  });

  after(async () => {
    await server.stop();
  });

  /** Whether the RTMP session of the client at local port `localPort` is served by a media worker. */
  const onWorker = (localPort: number): boolean => {
    const entry = [...server.rtmp!.sessions].find(([, s]) => s.client.address === `127.0.0.1:${localPort}`);
    assert.ok(entry !== undefined, `a session for 127.0.0.1:${localPort}`);
    return (server.workers?.handles ?? []).some((h) => h.rtmpSids.has(entry[0]));
  };

  const noProtocolErrors = (): void => {
    assert.deepEqual(protocolErrors().slice(errorsBefore), [], 'no session closed on a protocol error');
  };

  for (const name of ['slowconnect', 'slowpub-ffmpeg']) {
    it(`ffmpeg publishes behind a slow onConnection${name.startsWith('slowpub') ? ' and a slow onPublish' : ''}; an ffmpeg player gets every payload byte for byte`, { skip: !hasFfmpeg() }, async () => {
      const dir = tempDir();
      const source = makeTestFlv(join(dir, 'source.flv'), 3, 25);
      const out = join(dir, 'out.flv');
      const player = ffmpegPlay(url(`live/${name}`), out);
      await waitForLog(new RegExp(`playing ${name}$`), 15_000);
      const moved = logLines.filter((l) => l.includes('RTMP session moved to media worker')).length;
      const publisher = ffmpegPublish(source, url(`live/${name}`), false);
      assert.equal(await withTimeout(publisher.exited, 30_000, 'publisher'), 0, publisher.stderr());
      assert.equal(await withTimeout(player.exited, 30_000, 'player'), 0, player.stderr());
      assertSamePayloads(readFlv(source), readFlv(out));
      assert.ok(logLines.filter((l) => l.includes('RTMP session moved to media worker')).length > moved, 'the publisher went to a media worker');
      noProtocolErrors();
    });
  }

  it('a raw client cut mid-message around the pause and the handover: every command answered in order, every frame relayed', async () => {
    const name = 'rawsplit';
    const player = await startPlayer(url('live'), name);
    const raw = await RawRtmp.open(port);
    const c = publishCommands(port, name, 60);
    const media = mediaBytes(60, 20);
    // Parsed on the main thread at once: connect (its hook now pending, reading paused), the new
    // chunk size, releaseStream, and the head of FCPublish (a half-read message in the reader).
    raw.write(Buffer.concat([c.connect, c.chunkSize, c.releaseStream, c.fcPublish.subarray(0, 25)]));
    await sleep(HOOK_MS / 3);
    // Read by Node while paused, never seen by the main thread's reader: the rest of FCPublish,
    // createStream, and part of publish (cut inside its second chunk).
    raw.write(Buffer.concat([c.fcPublish.subarray(25), c.createStream, c.publish.subarray(0, 70)]));
    await raw.waitFor('_result', 1);
    await sleep(100);
    assert.ok(onWorker(raw.socket.localPort!), 'the session went to a media worker');
    // After the handover, straight to the worker's socket: the rest of publish and the frames.
    raw.write(Buffer.concat([c.publish.subarray(70), media.bytes]));
    await raw.waitFor('onStatus');
    assert.deepEqual((await raw.waitFor('_result', 4)).values.slice(2), [null, 1], 'createStream answered with stream 1');
    await raw.waitFor('_result', 2);
    await raw.waitFor('onFCPublish');
    const order = raw.commands.map((cmd) => `${String(cmd.values[0])}/${String(cmd.values[1])}`).filter((s) => !s.startsWith('onBWDone'));
    assert.deepEqual(order, ['_result/1', '_result/2', 'onFCPublish/0', '_result/4', 'onStatus/0']);
    assert.deepEqual(raw.statuses, ['NetStream.Publish.Start']);
    await until(() => player.video.length >= media.video.length && player.audio.length >= media.audio.length, 10_000, `player got ${player.video.length}/${media.video.length} video`);
    assert.deepEqual(player.video, media.video);
    assert.deepEqual(player.audio, media.audio);
    raw.close();
    player.client.close();
    noProtocolErrors();
  });

  for (const withMedia of [false, true]) {
    it(`a raw client sends connect and every command${withMedia ? ' and its first frames' : ''} in one TCP write`, async () => {
      const name = withMedia ? 'onewrite-media' : 'onewrite';
      const player = await startPlayer(url('live'), name);
      const raw = await RawRtmp.open(port);
      const c = publishCommands(port, name, 60);
      const media = mediaBytes(60, 20);
      raw.write(Buffer.concat([c.connect, c.chunkSize, c.releaseStream, c.fcPublish, c.createStream, c.publish, ...(withMedia ? [media.bytes] : [])]));
      await raw.waitFor('onStatus');
      if (!withMedia) {
        // Media parsed before the handover keeps a session on the main thread; without, it moves.
        assert.ok(onWorker(raw.socket.localPort!), 'the session went to a media worker');
        raw.write(media.bytes);
      }
      const order = raw.commands.map((cmd) => `${String(cmd.values[0])}/${String(cmd.values[1])}`).filter((s) => !s.startsWith('onBWDone'));
      assert.deepEqual(order, ['_result/1', '_result/2', 'onFCPublish/0', '_result/4', 'onStatus/0']);
      assert.deepEqual(raw.statuses, ['NetStream.Publish.Start']);
      await until(() => player.video.length >= media.video.length && player.audio.length >= media.audio.length, 10_000, `player got ${player.video.length}/${media.video.length} video`);
      assert.deepEqual(player.video, media.video);
      assert.deepEqual(player.audio, media.audio);
      raw.close();
      player.client.close();
      noProtocolErrors();
    });
  }

  it('a slow onPublish with frames sent right behind publish (before Publish.Start), a slow connect before it', async () => {
    const name = 'slowpub-raw';
    const player = await startPlayer(url('live'), name);
    const raw = await RawRtmp.open(port);
    const c = publishCommands(port, name, 60);
    const media = mediaBytes(60, 20);
    raw.write(Buffer.concat([c.connect, c.chunkSize, c.releaseStream]));
    await sleep(HOOK_MS / 3);
    raw.write(Buffer.concat([c.fcPublish, c.createStream, c.publish]));
    await raw.waitFor('_result', 1);
    await sleep(50);
    // onPublish is pending now: the frames wait in the worker, ahead of Publish.Start.
    raw.write(media.bytes);
    await raw.waitFor('onStatus');
    assert.ok(onWorker(raw.socket.localPort!), 'the session went to a media worker');
    assert.deepEqual(raw.statuses, ['NetStream.Publish.Start']);
    await until(() => player.video.length >= media.video.length && player.audio.length >= media.audio.length, 10_000, `player got ${player.video.length}/${media.video.length} video`);
    assert.deepEqual(player.video, media.video);
    assert.deepEqual(player.audio, media.audio);
    raw.close();
    player.client.close();
    noProtocolErrors();
  });
});
