/**
 * TC messages (RFC 7425 §5.1): what NetConnection and NetStream flows carry. Each message is
 * `type(1) timestamp(4, BE, ms) body`, with RTMP's message types (0x14 AMF0 command, 0x11 AMF3
 * command, 0x12/0x0F data, 0x08/0x09 audio/video, 0x04 user control). GC (NetGroup) flows carry
 * raw messages without this header.
 */
export const TC_HEADER_SIZE = 5;

export const TcType = {
  USER_CONTROL: 0x04,
  AUDIO: 0x08,
  VIDEO: 0x09,
  DATA_AMF3: 0x0f,
  COMMAND_AMF3: 0x11,
  DATA_AMF0: 0x12,
  COMMAND_AMF0: 0x14,
} as const;

/** User control events used over RTMFP (RTMP's plus RFC 7425 §5.2-5.3). */
export const TcUserControl = {
  STREAM_BEGIN: 0,
  STREAM_EOF: 1,
  SET_BUFFER_LENGTH: 3,
  STREAM_IS_RECORDED: 4,
  FLOW_SYNC: 0x22,
  SET_KEEPALIVE: 0x29,
} as const;

export const encodeTcMessage = (type: number, timestamp: number, body: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(TC_HEADER_SIZE + body.length);
  out[0] = type;
  out.writeUInt32BE(timestamp >>> 0, 1);
  out.set(body, TC_HEADER_SIZE);
  return out;
};

/**
 * A frame's TC message, built once per frame for every subscriber of a thread (`MediaFrame.encoded`
 * 'rtmfp:tc'), in a buffer of its own rather than a slice of Node's shared 8 KiB pool: a small
 * frame kept for retransmission or deadlines would otherwise keep a whole pool slab alive.
 */
export const encodeTcFrame = (frame: { kind: number; timestamp: number; payload: Buffer }): Buffer => {
  const out = Buffer.allocUnsafeSlow(TC_HEADER_SIZE + frame.payload.length);
  // FrameKind.DATA (18) is the AMF0 data message type: the kinds are the message types.
  out[0] = frame.kind;
  out.writeUInt32BE(frame.timestamp >>> 0, 1);
  out.set(frame.payload, TC_HEADER_SIZE);
  return out;
};

/** A user control message: event u16 then u32 values. */
export const encodeUserControl = (event: number, ...values: number[]): Buffer => {
  const body = Buffer.allocUnsafe(2 + 4 * values.length);
  body.writeUInt16BE(event, 0);
  values.forEach((v, i) => body.writeUInt32BE(v >>> 0, 2 + 4 * i));
  return encodeTcMessage(TcType.USER_CONTROL, 0, body);
};

/** The flow metadata of a NetConnection/NetStream flow: `TC 04 <VLU streamId>`. */
export const tcMetadata = (streamId: number): Buffer => {
  const bytes = [0x54, 0x43, 0x04];
  const groups: number[] = [];
  let v = streamId;
  do {
    groups.unshift(v & 0x7f);
    v = Math.floor(v / 128);
  } while (v > 0);
  groups.forEach((g, i) => bytes.push(i < groups.length - 1 ? g | 0x80 : g));
  return Buffer.from(bytes);
};

export const GROUP_METADATA = Buffer.from('GC', 'latin1');

export type FlowKind = { kind: 'tc'; streamId: number } | { kind: 'group' } | null;

/**
 * What a flow carries, from its metadata: `TC` + flags (0x04: stream ID present; low bit: receive
 * order) + VLU stream ID, or `GC` for a NetGroup control flow; null for anything else (reject it).
 */
export const classifyFlow = (metadata: Uint8Array): FlowKind => {
  if (metadata.length === 2 && metadata[0] === 0x47 && metadata[1] === 0x43) {
    return { kind: 'group' };
  }
  if (metadata.length < 4 || metadata[0] !== 0x54 || metadata[1] !== 0x43 || (metadata[2] & 0x04) === 0) {
    return null;
  }
  let streamId = 0;
  for (let i = 3; i < metadata.length && i < 8; i++) {
    const b = metadata[i];
    streamId = streamId * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      return { kind: 'tc', streamId };
    }
  }
  return null;
};
