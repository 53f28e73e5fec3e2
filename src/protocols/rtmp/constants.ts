/**
 * RTMP wire constants: message type ids, user control event types and the chunk stream ids we
 * send on. Plain `as const` objects so they inline as numbers and double as types.
 */

/** Message type ids (RTMP spec §5.4, §7.1). */
export const MessageType = {
  SET_CHUNK_SIZE: 1,
  ABORT: 2,
  ACK: 3,
  USER_CONTROL: 4,
  WINDOW_ACK_SIZE: 5,
  SET_PEER_BANDWIDTH: 6,
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  SHARED_OBJECT_AMF3: 16,
  COMMAND_AMF3: 17,
  DATA_AMF0: 18,
  SHARED_OBJECT_AMF0: 19,
  COMMAND_AMF0: 20,
  AGGREGATE: 22,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** User control event types (RTMP spec §7.1.7); the first 2 bytes of a type 4 payload. */
export const UserControlEvent = {
  STREAM_BEGIN: 0,
  STREAM_EOF: 1,
  STREAM_DRY: 2,
  SET_BUFFER_LENGTH: 3,
  STREAM_IS_RECORDED: 4,
  PING_REQUEST: 6,
  PING_RESPONSE: 7,
} as const;
export type UserControlEvent = (typeof UserControlEvent)[keyof typeof UserControlEvent];

/** Set Peer Bandwidth limit types (RTMP spec §5.4.5). */
export const BandwidthLimit = {
  HARD: 0,
  SOFT: 1,
  DYNAMIC: 2,
} as const;
export type BandwidthLimit = (typeof BandwidthLimit)[keyof typeof BandwidthLimit];

/**
 * Chunk stream ids for what we send. Only 2 is mandated (protocol control); the others follow
 * ffmpeg's layout (commands 3, audio 4, video 6) so captures look familiar. 5 is free in that
 * layout and carries data messages (onMetaData, |RtmpSampleAccess). Separate csids for audio and
 * video keep one from waiting behind a big chunked frame of the other.
 */
export const ChunkStreamId = {
  PROTOCOL: 2,
  COMMAND: 3,
  AUDIO: 4,
  DATA: 5,
  VIDEO: 6,
} as const;
export type ChunkStreamId = (typeof ChunkStreamId)[keyof typeof ChunkStreamId];

/** Chunk size every RTMP peer starts with until a Set Chunk Size arrives. */
export const DEFAULT_CHUNK_SIZE = 128;
/** Largest chunk size: the Set Chunk Size payload is 31 bits (top bit must be 0). */
export const MAX_CHUNK_SIZE = 0x7fffffff;
/** csid range expressible with the 1/2/3-byte basic header. */
export const MIN_CSID = 2;
export const MAX_CSID = 65599;
/** A 24-bit timestamp field with this value means "read the 4-byte extended timestamp". */
export const EXTENDED_TIMESTAMP = 0xffffff;
