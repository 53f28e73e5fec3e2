import type { Publication } from '../core/Publication.js';
import { FrameKind } from '../media/MediaFrame.js';
import { type MediaFormat, type MediaMuxer, createMuxer, mediaFormat } from '../media/record/MediaMuxer.js';
import type { Recorder } from '../media/record/Recorder.js';
import type { Recordings } from '../media/record/Recordings.js';

/** MonaServer's MediaContainer tracks: 1 audio, 2 video. FLV tag types (8, 9, 18) are taken too. */
const kindOfTrack = (track: number): FrameKind | null => {
  switch (track) {
    case 1:
    case FrameKind.AUDIO: {
      return FrameKind.AUDIO;
    }
    case 2:
    case FrameKind.VIDEO: {
      return FrameKind.VIDEO;
    }
    case FrameKind.DATA: {
      return FrameKind.DATA;
    }
    default: {
      return null;
    }
  }
};

/**
 * `mona:createMediaWriter(type)`, for Lua and JS apps alike. MonaServer's writer turns media
 * packets into container bytes: `write(track, time, packet)` returns them (the file header with
 * the first packet), for the script to keep or send. "mp2t" (or "ts") is MPEG-TS, "mp4" a
 * fragmented MP4 (a Nimbus addition), anything else FLV, as in MonaServer. `flush` gives what the
 * muxer still holds (an MP4 fragment is written once complete). Nimbus also lets the writer
 * record a publication to a file itself (`record`): in the background, in the record folder,
 * until the publisher leaves or `close`.
 */
export class ScriptMediaWriter {
  readonly format: MediaFormat;
  private muxer: MediaMuxer;
  private recorder: Recorder | null = null;

  constructor(
    type: string,
    private readonly recordings: Recordings,
  ) {
    this.format = mediaFormat(type) ?? 'flv';
    this.muxer = createMuxer(this.format);
  }

  /** The bytes of one packet in the container (empty while an MP4 fragment fills up). */
  write(track: number, time: number, data: Buffer): Buffer {
    const kind = kindOfTrack(track);
    if (kind === null) {
      throw new Error(`media writer: track ${track} is neither 1 (audio) nor 2 (video)`);
    }
    const out: Buffer[] = [];
    this.muxer.write(kind, time >>> 0, data, out);
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** What the muxer holds, as the end of the stream; the next `write` starts a new one (headers again). */
  flush(): Buffer {
    const out: Buffer[] = [];
    this.muxer.end(out);
    this.muxer = createMuxer(this.format);
    return Buffer.concat(out);
  }

  /**
   * Records `publication` into `<application.recordDir>/<name>` (the format's extension added
   * unless `name` has it) from now on; returns the file. Throws when the name cannot be a file
   * there, recording is off, or the file or this writer records already.
   */
  record(publication: Publication, name: string): string {
    if (this.recorder?.running === true) {
      throw new Error(`media writer: records ${this.recorder.file} already`);
    }
    this.recorder = this.recordings.record(publication.feed, publication.name, name, this.format);
    return this.recorder.file;
  }

  /** True while `record` writes a file. */
  get recording(): boolean {
    return this.recorder?.running === true;
  }

  /** Ends the recording (the file is completed) and the byte stream of `write`. */
  close(): void {
    this.recorder?.stop();
    this.recorder = null;
    this.muxer = createMuxer(this.format);
  }
}
