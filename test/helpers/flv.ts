import { readFileSync } from 'node:fs';

export interface FlvTag {
  type: number;
  timestamp: number;
  payload: Buffer;
}

/** Reads the tags of an FLV file (tests compare what went in with what came out). */
export const readFlv = (file: string): FlvTag[] => {
  const data = readFileSync(file);
  if (data.length < 9 || data.toString('latin1', 0, 3) !== 'FLV') {
    throw new Error(`${file} is not an FLV file`);
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
