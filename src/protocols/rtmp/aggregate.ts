/**
 * Aggregate messages (type 22, RTMP spec §7.1.6): a run of FLV tags sent as one RTMP message,
 * mostly by FMS/Wowza edges. Each sub-message is an 11-byte tag header (type, 24-bit size,
 * 24-bit timestamp + 8-bit extension, 24-bit stream id), the body and a 4-byte back pointer.
 * Sub-message timestamps are rebased so the first maps to the aggregate's own timestamp.
 */

export interface AggregateSubMessage {
  type: number;
  timestamp: number;
  /** View into the aggregate payload (no copy). */
  payload: Buffer;
}

const TAG_HEADER_SIZE = 11;
const BACK_POINTER_SIZE = 4;

/**
 * Split an aggregate payload into its sub-messages, or null when the tags do not fit the payload.
 * Back pointer values are not checked (they carry no information we need and encoders get them
 * wrong); the back pointer of the last tag may be missing.
 */
export function unpackAggregate(payload: Buffer, messageTimestamp: number): AggregateSubMessage[] | null {
  const out: AggregateSubMessage[] = [];
  let first = 0;
  let p = 0;
  while (p < payload.length) {
    if (payload.length - p < TAG_HEADER_SIZE) {
      return null;
    }
    const type = payload[p];
    const size = payload.readUIntBE(p + 1, 3);
    const tagTime = (payload.readUIntBE(p + 4, 3) | (payload[p + 7] << 24)) >>> 0;
    const bodyStart = p + TAG_HEADER_SIZE;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > payload.length) {
      return null;
    }
    const remaining = payload.length - bodyEnd;
    if (remaining > 0 && remaining < BACK_POINTER_SIZE) {
      return null;
    }
    if (out.length === 0) {
      first = tagTime;
    }
    out.push({
      type,
      // Modular arithmetic keeps wrapped or slightly out-of-order tag timestamps right.
      timestamp: (messageTimestamp + tagTime - first) >>> 0,
      payload: payload.subarray(bodyStart, bodyEnd),
    });
    p = remaining === 0 ? bodyEnd : bodyEnd + BACK_POINTER_SIZE;
  }
  return out;
}
