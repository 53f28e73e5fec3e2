import type { WebSocket } from 'ws';
import type { FlvTransport } from './FlvViewer.js';

/** WebSocket-FLV: the FLV header, then one binary message per tag (players read them as one byte stream). */
export class WsFlvTransport implements FlvTransport {
  constructor(private readonly ws: WebSocket) {}

  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  writeHeader(bytes: Buffer): void {
    this.writeTag(bytes);
  }

  writeTag(bytes: Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) {
      this.ws.send(bytes, { binary: true });
    }
  }

  end(): void {
    if (this.ws.readyState === this.ws.OPEN) {
      this.ws.close(1000, 'unpublished');
    }
  }

  close(reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) {
      this.ws.close(1008, reason);
      // A peer that does not read cannot read the close frame either.
      setTimeout(() => this.ws.terminate(), 1000).unref();
    } else {
      this.ws.terminate();
    }
  }
}
