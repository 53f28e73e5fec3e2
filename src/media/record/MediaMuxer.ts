import type { FrameKind } from '../MediaFrame.js';
import { FlvMuxer } from './FlvMuxer.js';
import { Mp4Muxer } from './Mp4Muxer.js';
import { TsMuxer } from './TsMuxer.js';

/** The containers a publication can be written in. */
export type MediaFormat = 'flv' | 'mp4' | 'ts';

/** The names a script or a stream name may give each format. */
const FORMAT_NAMES: Readonly<Record<string, MediaFormat>> = {
  flv: 'flv',
  mp4: 'mp4',
  fmp4: 'mp4',
  ts: 'ts',
  mp2t: 'ts',
  mpegts: 'ts',
  'mpeg-ts': 'ts',
};

/** The format called `name` (case-insensitive: "flv", "mp4", "ts", MonaServer's "mp2t"...), or null. */
export const mediaFormat = (name: string): MediaFormat | null => FORMAT_NAMES[name.toLowerCase()] ?? null;

/** File name extension of each format, with its dot. */
export const EXTENSIONS: Readonly<Record<MediaFormat, string>> = { flv: '.flv', mp4: '.mp4', ts: '.ts' };

/**
 * Frames in, container bytes out: one muxer makes one file (or one byte stream). It is fed the
 * frames of one publisher as FLV tag bodies (audio 8, video 9, data 18) with millisecond
 * timestamps, in order, and appends what it writes to `out`; a muxer that must hold frames (an
 * MP4 fragment is written once it is complete) gives the rest at `end`. Nothing throws on bad
 * media: a payload a muxer cannot place is skipped.
 */
export interface MediaMuxer {
  readonly format: MediaFormat;
  write(kind: FrameKind, timestamp: number, payload: Buffer, out: Buffer[]): void;
  /** The bytes still held: the end of the file. */
  end(out: Buffer[]): void;
  /** Once the end is written: bytes to write over, where they were only known at the end (FLV's duration). */
  patches?(): Patch[];
}

/** Bytes that replace what a file has at `at` (same length). */
export interface Patch {
  at: number;
  bytes: Buffer;
}

/** A new muxer of `format` (FLV with its file header). */
export const createMuxer = (format: MediaFormat): MediaMuxer =>
  format === 'mp4' ? new Mp4Muxer() : format === 'ts' ? new TsMuxer() : new FlvMuxer();
