import type { ServerResponse } from 'node:http';
import { type FrameWriteBatch, RtmpSocketWriter } from '../../protocols/rtmp/RtmpSocketWriter.js';
import type { FlvTransport } from './FlvViewer.js';

/**
 * An HTTP-FLV body. The status line and headers go through Node; then the body is the raw
 * socket, delimited by its close (no chunked encoding, `Connection: close`), so tags leave as
 * RTMP players' chunks do: queued in the thread's write batch, one send per viewer per turn for
 * all of them (the native sendmsg path when the addon is loaded).
 */
export class HttpFlvTransport implements FlvTransport {
  private readonly writer: RtmpSocketWriter;

  /** `frames`: the thread's write batch (`WireContext.frames`). */
  constructor(
    private readonly res: ServerResponse,
    frames: FrameWriteBatch,
  ) {
    // Close-delimited: Node must not add chunk framing to bytes it never sees.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    this.writer = new RtmpSocketWriter(res.socket!, frames);
  }

  get queuedBytes(): number {
    return this.writer.queuedBytes;
  }

  writeHeader(bytes: Buffer): void {
    this.res.flushHeaders();
    this.writer.write(bytes);
  }

  writeTag(bytes: Buffer): void {
    this.writer.writeFrame(bytes);
  }

  end(): void {
    this.writer.settle();
    this.res.socket?.end();
  }

  close(_reason: string): void {
    this.writer.settle();
    this.res.socket?.destroy();
  }
}
