import { FrameKind } from '../MediaFrame.js';
import type { MediaMuxer, Patch } from './MediaMuxer.js';

/** "FLV", version 1, audio and video present, header size 9, then the first PreviousTagSize (0). */
const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
const TAG_HEADER_SIZE = 11;
/** The data size field has 24 bits. */
export const MAX_TAG_PAYLOAD = 0xffffff;
/** AMF0 string "onMetaData": 02 00 0A "onMetaData". */
const ON_METADATA = Buffer.from('02000a6f6e4d65746144617461', 'hex');

/** A number property's key as AMF0 writes it in an object or ECMA array: u16 length, name, number marker. */
const numberKey = (name: string): Buffer => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name, 'latin1'), Buffer.from([0])]);
const DURATION_KEY = numberKey('duration');
const FILESIZE_KEY = numberKey('filesize');

export const isOnMetaData = (payload: Buffer): boolean => payload.subarray(0, ON_METADATA.length).equals(ON_METADATA);

/** Where the 8-byte `duration` and `filesize` numbers of an onMetaData payload are (offsets in it), if it has them. */
export const metadataNumbers = (payload: Buffer): { duration: number | null; filesize: number | null } => {
  const at = (key: Buffer): number | null => {
    const i = payload.indexOf(key, ON_METADATA.length);
    return i >= 0 && i + key.length + 8 <= payload.length ? i + key.length : null;
  };
  return { duration: at(DURATION_KEY), filesize: at(FILESIZE_KEY) };
};

export interface FlvMuxerOptions {
  /** Write the file header (false: tags to append to a file that has one). */
  header: boolean;
  /** Where the first byte goes in the file (an appended file's size). */
  position: number;
  /** In the file already: where its onMetaData has its duration and file size numbers. */
  durationAt?: number | null;
  filesizeAt?: number | null;
}

/**
 * FLV (Adobe FLV 10.1, annex E): the file header, then each frame as a tag whose body is the
 * frame's payload unchanged, followed by its PreviousTagSize; timestamps are 32-bit milliseconds
 * (24 bits and an extension byte). A file has one onMetaData, at its start: the publisher's first
 * (later ones, an appended publisher's included, are left out: players and ffprobe take a second
 * one for a new stream). Its `duration` and `filesize` are set right once the file ends (`patches`),
 * as FMS does, since a live publisher sends 0 or nothing there.
 */
export class FlvMuxer implements MediaMuxer {
  readonly format = 'flv';
  private headerDue: boolean;
  private position: number;
  private wroteTags: boolean;
  private durationAt: number | null;
  private filesizeAt: number | null;
  private lastTimestamp = 0;

  constructor(options: Partial<FlvMuxerOptions> = {}) {
    this.headerDue = options.header ?? true;
    this.position = options.position ?? 0;
    this.wroteTags = !this.headerDue;
    this.durationAt = options.durationAt ?? null;
    this.filesizeAt = options.filesizeAt ?? null;
  }

  write(kind: FrameKind, timestamp: number, payload: Buffer, out: Buffer[]): void {
    if (payload.length > MAX_TAG_PAYLOAD || (kind !== FrameKind.AUDIO && kind !== FrameKind.VIDEO && kind !== FrameKind.DATA)) {
      return;
    }
    if (kind === FrameKind.DATA && isOnMetaData(payload)) {
      if (this.wroteTags) {
        return;
      }
      const numbers = metadataNumbers(payload);
      const body = this.position + (this.headerDue ? FLV_HEADER.length : 0) + TAG_HEADER_SIZE;
      this.durationAt = numbers.duration === null ? null : body + numbers.duration;
      this.filesizeAt = numbers.filesize === null ? null : body + numbers.filesize;
    }
    if (this.headerDue) {
      this.headerDue = false;
      out.push(FLV_HEADER);
      this.position += FLV_HEADER.length;
    }
    this.wroteTags = true;
    const head = Buffer.allocUnsafe(TAG_HEADER_SIZE);
    const time = timestamp >>> 0;
    head[0] = kind;
    head.writeUIntBE(payload.length, 1, 3);
    head.writeUIntBE(time & 0xffffff, 4, 3);
    head[7] = time >>> 24;
    head.writeUIntBE(0, 8, 3); // stream id
    const tail = Buffer.allocUnsafe(4);
    tail.writeUInt32BE(TAG_HEADER_SIZE + payload.length, 0);
    out.push(head, payload, tail);
    this.position += TAG_HEADER_SIZE + payload.length + 4;
    if (kind !== FrameKind.DATA && time > this.lastTimestamp) {
      this.lastTimestamp = time;
    }
  }

  end(): void {}

  /** The onMetaData's duration (the last timestamp, seconds) and file size, written over what the publisher had there. */
  patches(): Patch[] {
    const number = (at: number | null, value: number): Patch[] => {
      if (at === null) {
        return [];
      }
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleBE(value, 0);
      return [{ at, bytes }];
    };
    return [...number(this.durationAt, this.lastTimestamp / 1000), ...number(this.filesizeAt, this.position)];
  }
}
