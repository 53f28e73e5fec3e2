import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeAmf0 } from '../../../src/amf/index.js';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { capture, harness, hooksRan } from './kit.js';

describe("CumulusServer's per-packet events and pushes", () => {
  it('calls the global onVideoPacket/onAudioPacket/onDataPacket of the publisher\'s app, and pushXPacket relays them byte for byte', async () => {
    const h = await harness({
      'www/main.lua': `
        copy = nil
        seen = { video = 0, audio = 0, data = 0, names = {} }
        function onConnection(client) end
        function onPublish(client, publication) copy = cumulus:publish(publication.name .. "-copy") end
        function onVideoPacket(client, publication, time, packet) seen.video = seen.video + 1 copy:pushVideoPacket(time, packet) end
        function onAudioPacket(client, publication, time, packet) seen.audio = seen.audio + 1 copy:pushAudioPacket(time, packet) end
        function onDataPacket(client, publication, name, packet)
          seen.data = seen.data + 1
          seen.names[#seen.names + 1] = name
          copy:pushDataPacket(name, packet)
        end
        function onUnpublish(client, publication) copy:close() end`,
    });
    const client = h.client();
    await h.connect(client);
    const source = await h.core.publish(client, 'cam');
    const copy = h.core.publication('cam-copy')!;
    const got = capture(copy, (frame) => [frame.kind, frame.timestamp, frame.payload] as const);
    const sent: MediaFrame[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = i % 3 === 0 ? FrameKind.VIDEO : i % 3 === 1 ? FrameKind.AUDIO : FrameKind.DATA;
      const payload = kind === FrameKind.DATA ? encodeAmf0('onCuePoint', { n: i, text: 'x'.repeat(i) }) : randomBytes(10 + i);
      const frame = new MediaFrame(kind, i * 10, payload);
      sent.push(frame);
      source.push(frame);
    }
    await hooksRan();
    await hooksRan();
    assert.equal(got.length, sent.length, 'every packet relayed');
    for (let i = 0; i < sent.length; i++) {
      assert.equal(got[i][0], sent[i].kind);
      assert.ok(got[i][2].equals(sent[i].payload), `packet ${i} byte for byte`);
      if (sent[i].kind !== FrameKind.DATA) {
        assert.equal(got[i][1], sent[i].timestamp);
      }
    }
    h.core.unpublish(source);
    await hooksRan();
    assert.equal(h.core.publication('cam-copy')?.running ?? false, false, 'onUnpublish ran, the copy is closed');
  });

  it('costs nothing when the app defines none', async () => {
    const h = await harness({ 'www/main.lua': 'function onConnection(client) end' });
    const client = h.client();
    await h.connect(client);
    const source = await h.core.publish(client, 'plain');
    assert.equal(source.feed.outputCount, 0, 'no tap');
  });
});
