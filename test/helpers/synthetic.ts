import type { RtmpClient } from '../../src/client/RtmpClient.js';

/** Minimal but well-formed FLV bodies: AVC sequence header, key and inter frames, AAC config and frames. */
export const avcSequenceHeader = Buffer.from('1700000000014d401effe1000a674d401ee8802802dd0001000468ee3c80', 'hex');
export const aacSequenceHeader = Buffer.from('af001210', 'hex');
export const videoFrame = (key: boolean, index: number, size = 1000): Buffer => {
  const b = Buffer.alloc(Math.max(size, 9), index & 0xff);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  b.writeUIntBE(0, 2, 3);
  b.writeUInt32BE(index, 5);
  return b;
};
export const audioFrame = (index: number): Buffer => {
  const b = Buffer.alloc(64, index & 0xff);
  b[0] = 0xaf;
  b[1] = 1;
  return b;
};

export interface SyntheticPublisher {
  /** Frames written so far. */
  readonly sent: number;
  stop(): void;
}

/**
 * Writes a 25 fps video + audio stream on `streamId` (keyframe every `gop` frames), bounded by
 * `maxFrames` so a test can never run away.
 */
export const publishSynthetic = (
  client: RtmpClient,
  streamId: number,
  options: { gop?: number; videoSize?: number; intervalMs?: number; maxFrames?: number } = {},
): SyntheticPublisher => {
  const gop = options.gop ?? 25;
  const max = options.maxFrames ?? 10_000;
  let index = 0;
  client.writeMedia(streamId, 9, 0, avcSequenceHeader);
  client.writeMedia(streamId, 8, 0, aacSequenceHeader);
  const timer = setInterval(() => {
    if (client.closed || index >= max) {
      clearInterval(timer);
      return;
    }
    const t = index * 40;
    client.writeMedia(streamId, 9, t, videoFrame(index % gop === 0, index, options.videoSize));
    client.writeMedia(streamId, 8, t, audioFrame(index));
    index++;
  }, options.intervalMs ?? 40);
  return {
    get sent() {
      return index;
    },
    stop: () => clearInterval(timer),
  };
};
