import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Core } from '../../../src/core/Core.js';
import { Publication } from '../../../src/core/Publication.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { AddressOrigin } from '../../../src/protocols/rtmfp/address.js';
import { type ControlHost, RtmfpControlSession } from '../../../src/protocols/rtmfp/RtmfpControlSession.js';
import type { SessionCommands } from '../../../src/protocols/rtmfp/SessionLink.js';
import { encodeTcMessage } from '../../../src/protocols/rtmfp/tcMessage.js';
import { Logger } from '../../../src/util/Logger.js';

interface Written {
  streamId: number;
  message: Buffer;
  kind: number;
  config: boolean;
}

const commands = (written: Written[]): SessionCommands => ({
  writeTc: () => undefined,
  writeFrame: (streamId, message, kind, config) => written.push({ streamId, message, kind, config }),
  finishStream: () => undefined,
  writeGroup: () => undefined,
  queueChunk: () => undefined,
  close: () => undefined,
  queuedBytes: () => 0,
});

const host: ControlHost = {
  core: {} as Core,
  log: new Logger('test'),
  keepaliveServerMs: 15_000,
  keepalivePeerMs: 10_000,
  onRendezvousReady: () => undefined,
  onGroupMessage: () => undefined,
  onGroupFlowClosed: () => undefined,
  onControlClosed: () => undefined,
};

const session = (sid: number, written: Written[]): RtmfpControlSession =>
  new RtmfpControlSession(host, sid, Buffer.alloc(32, sid), { host: '127.0.0.1', port: 1000 + sid, origin: AddressOrigin.OBSERVED }, commands(written));

/** A running publication the sessions play (their subscribers join its fan-out). */
const publication = (): Publication => {
  const p = new Publication('p', { gopCache: true, gopCacheMaxBytes: 1 << 20 }, { maxQueuedBytes: 1 << 20, timeoutMs: 10_000 });
  p.start(null);
  return p;
};

describe('RTMFP control session', () => {
  it('encodes a frame once for every subscriber, in a buffer of its own', () => {
    const written: Written[] = [];
    const a = session(1, written);
    const b = session(2, written);
    // A small payload from Node's shared pool, as a publisher's frames usually are.
    const payload = Buffer.from([0xaf, 0x01, 1, 2, 3, 4, 5]);
    const audio = new MediaFrame(FrameKind.AUDIO, 0x1_0000_0123, payload);
    const p = publication();
    a.startPlaying(1, p);
    b.startPlaying(3, p);
    p.push(audio);
    assert.equal(written.length, 2);
    assert.equal(written[0].message, written[1].message, 'one encoding shared by the subscribers');
    const message = written[0].message;
    assert.ok(message.equals(encodeTcMessage(FrameKind.AUDIO, 0x1_0000_0123, payload)));
    // Not a slice of the 8 KiB pool: posting it to a media worker copies only these bytes.
    assert.equal(message.byteOffset, 0);
    assert.equal(message.buffer.byteLength, message.length);
    assert.deepEqual(
      written.map((w) => [w.streamId, w.kind, w.config]),
      [
        [1, FrameKind.AUDIO, false],
        [3, FrameKind.AUDIO, false],
      ],
    );
  });

  it('sends data frames as AMF0 data messages (type 18)', () => {
    const written: Written[] = [];
    const onMetaData = Buffer.from('02000a6f6e4d65746144617461', 'hex');
    const p = publication();
    session(1, written).startPlaying(1, p);
    p.push(new MediaFrame(FrameKind.DATA, 40, onMetaData));
    assert.equal(written[0].message[0], 18);
    assert.ok(written[0].message.subarray(5).equals(onMetaData));
    assert.equal(written[0].config, true);
  });
});
