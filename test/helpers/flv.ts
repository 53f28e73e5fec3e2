import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export interface FlvTag {
  type: number;
  timestamp: number;
  payload: Buffer;
}

/** Reads the tags of an FLV file (tests compare what went in with what came out). */
export const readFlv = (file: string): FlvTag[] => parseFlv(readFileSync(file), file);

/** The tags of FLV bytes (a file, or what an HTTP-FLV or WebSocket-FLV viewer received). */
export const parseFlv = (data: Buffer, what = 'data'): FlvTag[] => {
  if (data.length < 9 || data.toString('latin1', 0, 3) !== 'FLV') {
    throw new Error(`${what} is not FLV`);
  }
  const tags: FlvTag[] = [];
  let offset = data.readUInt32BE(5) + 4;
  while (offset + 11 <= data.length) {
    const type = data[offset] & 0x1f;
    const size = data.readUIntBE(offset + 1, 3);
    const timestamp = (data.readUIntBE(offset + 4, 3) | (data[offset + 7] << 24)) >>> 0;
    if (offset + 11 + size > data.length) {
      break;
    }
    tags.push({ type, timestamp, payload: data.subarray(offset + 11, offset + 11 + size) });
    offset += 11 + size + 4;
  }
  return tags;
};

export const mediaTags = (tags: FlvTag[]): FlvTag[] => tags.filter((t) => t.type === 8 || t.type === 9);

/** Audio and video tags of `got` must be the same bytes as those of `sent`, in order, from `sent[first]` (sequence headers aside). */
export const assertSamePayloads = (sent: FlvTag[], got: FlvTag[], first = 0): void => {
  const expected = mediaTags(sent).slice(first).filter((t) => !(t.payload.length >= 2 && t.payload[1] === 0));
  const received = mediaTags(got).filter((t) => !(t.payload.length >= 2 && t.payload[1] === 0));
  assert.ok(received.length > 0, 'the player received media');
  assert.equal(received.length, expected.length, `tag count: got ${received.length}, sent ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(received[i].type, expected[i].type, `tag ${i} type`);
    assert.ok(received[i].payload.equals(expected[i].payload), `tag ${i} (type ${expected[i].type}) payload differs`);
  }
};
