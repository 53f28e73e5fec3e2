import type { Recordings } from '../../media/record/Recordings.js';
import { ScriptMediaWriter } from '../ScriptMediaWriter.js';
import { JsPublication } from './JsObjects.js';

/** `mona.createMediaWriter(type)` of JS apps: ScriptMediaWriter with JS values (Buffers, JsPublication). */
export class JsMediaWriter {
  private readonly writer: ScriptMediaWriter;

  constructor(type: string, recordings: Recordings) {
    this.writer = new ScriptMediaWriter(type, recordings);
  }

  /** "flv", "mp4" or "ts". */
  get format(): string {
    return this.writer.format;
  }

  get recording(): boolean {
    return this.writer.recording;
  }

  /** Track 1 audio, 2 video (as MonaServer), or an FLV tag type; the container bytes of the packet. */
  write(track: number, time: number, packet: Uint8Array): Buffer {
    return this.writer.write(track, time, Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }

  flush(): Buffer {
    return this.writer.flush();
  }

  /** Records `publication` into the record folder as `name` (+ the extension); returns the file. */
  record(publication: JsPublication, name: string): string {
    if (!(publication instanceof JsPublication)) {
      throw new TypeError('createMediaWriter().record(publication, name): not a publication');
    }
    return this.writer.record(publication.core, name);
  }

  close(): void {
    this.writer.close();
  }
}
