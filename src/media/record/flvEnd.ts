import { type FileHandle, open } from 'node:fs/promises';
import { isOnMetaData, metadataNumbers } from './FlvMuxer.js';

/** Where an FLV file ends: what appending to it needs. */
export interface FlvEnd {
  /** Bytes up to the end of the last complete tag (less than the file when a crash cut a tag). */
  size: number;
  /** Where appended media goes on: the last audio/video timestamp plus one frame, ms. */
  nextTimestamp: number;
  /** Where the file's onMetaData (its first tag) has its duration and file size numbers, if it does. */
  durationAt: number | null;
  filesizeAt: number | null;
}

/** Tags looked at, from the end, to time the last frame. */
const TAIL_TAGS = 64;
const TAG_TYPES = new Set([8, 9, 18]);

const readAt = async (handle: FileHandle, position: number, length: number): Promise<Buffer | null> => {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return bytesRead === length ? buffer : null;
};

interface Tag {
  type: number;
  timestamp: number;
}

const tagAt = async (handle: FileHandle, position: number, fileSize: number): Promise<(Tag & { size: number }) | null> => {
  const head = await readAt(handle, position, 11);
  if (head === null || !TAG_TYPES.has(head[0] & 0x1f)) {
    return null;
  }
  const size = head.readUIntBE(1, 3);
  if (position + 11 + size + 4 > fileSize) {
    return null;
  }
  return { type: head[0] & 0x1f, timestamp: (head.readUIntBE(4, 3) | (head[7] << 24)) >>> 0, size };
};

/** The last tags walked back from the end through the PreviousTagSize fields; null if the end is not a tag. */
const walkBack = async (handle: FileHandle, first: number, fileSize: number): Promise<Tag[] | null> => {
  const tags: Tag[] = [];
  let end = fileSize;
  while (tags.length < TAIL_TAGS && end > first) {
    const previous = await readAt(handle, end - 4, 4);
    const start = previous === null ? -1 : end - 4 - previous.readUInt32BE(0);
    const tag = start >= first ? await tagAt(handle, start, fileSize) : null;
    if (tag === null || start + 11 + tag.size + 4 !== end) {
      return tags.length > 0 ? tags : null;
    }
    tags.unshift(tag);
    end = start;
  }
  return tags;
};

/**
 * Reads where the FLV file `file` ends (its last tags, from the end: PreviousTagSize leads
 * back to each one). A file whose end is not a complete tag (a recording cut by a crash) is
 * scanned from the start, and `size` says where its last complete tag ends. Resolves to null
 * when there is no file; rejects when it is not FLV.
 */
export const readFlvEnd = async (file: string): Promise<FlvEnd | null> => {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw err;
  }
  try {
    const fileSize = (await handle.stat()).size;
    const header = await readAt(handle, 0, 9);
    if (header === null || header.toString('latin1', 0, 3) !== 'FLV') {
      throw new Error('not an FLV file');
    }
    const first = header.readUInt32BE(5) + 4;
    if (first < 13 || first > fileSize) {
      throw new Error('not an FLV file (bad header)');
    }
    let size = fileSize;
    let tags = await walkBack(handle, first, fileSize);
    if (tags === null) {
      // The end is no tag: find the last complete one from the start.
      tags = [];
      let position = first;
      for (;;) {
        const tag = await tagAt(handle, position, fileSize);
        if (tag === null) {
          break;
        }
        tags.push(tag);
        if (tags.length > TAIL_TAGS) {
          tags.shift();
        }
        position += 11 + tag.size + 4;
      }
      size = position;
    }
    return { size, nextTimestamp: nextTimestamp(tags), ...(await metadataAt(handle, first, size)) };
  } finally {
    await handle.close();
  }
};

/** The file positions of the duration and file size numbers of the onMetaData that starts the file. */
const metadataAt = async (handle: FileHandle, first: number, fileSize: number): Promise<{ durationAt: number | null; filesizeAt: number | null }> => {
  const tag = await tagAt(handle, first, fileSize);
  const payload = tag !== null && tag.type === 18 && tag.size <= 65536 ? await readAt(handle, first + 11, tag.size) : null;
  if (payload === null || !isOnMetaData(payload)) {
    return { durationAt: null, filesizeAt: null };
  }
  const numbers = metadataNumbers(payload);
  return {
    durationAt: numbers.duration === null ? null : first + 11 + numbers.duration,
    filesizeAt: numbers.filesize === null ? null : first + 11 + numbers.filesize,
  };
};

/** The last media timestamp plus the shortest step between two frames of one kind (audio or video). */
const nextTimestamp = (tags: readonly Tag[]): number => {
  let last = -1;
  let step = 0;
  const previous = new Map<number, number>();
  for (const tag of tags) {
    if (tag.type === 18) {
      continue;
    }
    last = Math.max(last, tag.timestamp);
    const before = previous.get(tag.type);
    if (before !== undefined && tag.timestamp > before && (step === 0 || tag.timestamp - before < step)) {
      step = tag.timestamp - before;
    }
    previous.set(tag.type, tag.timestamp);
  }
  return last < 0 ? 0 : last + Math.max(step, 1);
};
