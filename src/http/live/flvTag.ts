import type { MediaFrame, WireSlots } from '../../media/MediaFrame.js';

/** "FLV", version 1, audio+video flags, header size 9, then PreviousTagSize0. */
export const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);

/** The wire format name of an FLV tag (`MediaFrame.encoded`): one per frame, shared by HTTP and WebSocket viewers. */
export const FLV_FORMAT = 'flv';

/** One FLV tag: 11-byte header, the payload as RTMP carried it, PreviousTagSize. */
export const encodeFlvTag = (frame: MediaFrame): Buffer => {
  const size = frame.payload.length;
  const tag = Buffer.allocUnsafe(11 + size + 4);
  const ts = frame.timestamp >>> 0;
  tag[0] = frame.kind;
  tag.writeUIntBE(size, 1, 3);
  tag.writeUIntBE(ts & 0xffffff, 4, 3);
  tag[7] = ts >>> 24;
  tag.writeUIntBE(0, 8, 3);
  frame.payload.copy(tag, 11);
  tag.writeUInt32BE(11 + size, 11 + size);
  return tag;
};

/** The frame's FLV tag, encoded once per frame (`slots`: the thread's wire slots). */
export const flvTagOf = (frame: MediaFrame, slots: WireSlots): Buffer => frame.encoded(slots, FLV_FORMAT, encodeFlvTag);
