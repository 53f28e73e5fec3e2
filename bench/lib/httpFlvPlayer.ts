import { EventEmitter } from 'node:events';
import { type Socket, connect } from 'node:net';

const HEADER_LIMIT = 16 * 1024;

/**
 * A light HTTP-FLV player for the fan-out benchmarks, as RtmpClient is for RTMP: one TCP
 * connection, a GET of `<path>/<stream>.flv`, then the FLV body parsed into tags (no decoding),
 * each given to `onMedia`. Chunked bodies are not supported: Nimbus and node-media-server send
 * the stream as a plain (close-delimited or chunked) body; chunked framing is removed when present.
 */
export class HttpFlvPlayer extends EventEmitter {
  private socket: Socket | null = null;
  private url: URL | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private headersDone = false;
  private chunked = false;
  private chunkLeft = 0;
  private flvHeaderDone = false;
  private body: Buffer = Buffer.alloc(0);
  closed = false;

  constructor(private readonly options: { onMedia: (type: number, timestamp: number, payload: Buffer) => void }) {
    super();
  }

  /** TCP connect to the URL's host and port (`http://host:port/app`). */
  async connect(url: string): Promise<void> {
    this.url = new URL(url);
    const socket = connect(Number(this.url.port), this.url.hostname);
    socket.setNoDelay(true);
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.closed) {
        this.closed = true;
        this.emit('close', null);
      }
    });
  }

  /** GET the stream; resolves once the response's status line and headers said 200. */
  play(stream: string): Promise<void> {
    const socket = this.socket!;
    const path = `${this.url!.pathname.replace(/\/$/, '')}/${stream}.flv`;
    return new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        if (this.headersDone) {
          this.onBody(data);
          return;
        }
        this.pending = Buffer.concat([this.pending, data]);
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.pending.length > HEADER_LIMIT) {
            reject(new Error('response headers too large'));
          }
          return;
        }
        const head = this.pending.toString('latin1', 0, end);
        const rest = this.pending.subarray(end + 4);
        this.pending = Buffer.alloc(0);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (status === null || status[1] !== '200') {
          reject(new Error(`HTTP-FLV: ${head.split('\r\n')[0]}`));
          socket.destroy();
          return;
        }
        this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        this.headersDone = true;
        resolve();
        if (rest.length > 0) {
          this.onBody(rest);
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed before the response')));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.url!.host}\r\nAccept: */*\r\n\r\n`);
    });
  }

  private onBody(data: Buffer): void {
    if (this.chunked) {
      data = this.dechunk(data);
    }
    let buf = this.body.length === 0 ? data : Buffer.concat([this.body, data]);
    let at = 0;
    if (!this.flvHeaderDone) {
      if (buf.length < 13) {
        this.body = buf;
        return;
      }
      at = buf.readUInt32BE(5) + 4;
      this.flvHeaderDone = true;
    }
    while (at + 11 <= buf.length) {
      const size = buf.readUIntBE(at + 1, 3);
      if (at + 11 + size + 4 > buf.length) {
        break;
      }
      const type = buf[at] & 0x1f;
      const timestamp = (buf.readUIntBE(at + 4, 3) | (buf[at + 7] << 24)) >>> 0;
      this.options.onMedia(type, timestamp, buf.subarray(at + 11, at + 11 + size));
      at += 11 + size + 4;
    }
    buf = buf.subarray(at);
    // Keep only the unread rest (a copy, so the big receive buffer is not pinned).
    this.body = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Removes chunked transfer framing (node-media-server's express responses are chunked). */
  private chunkBuf: Buffer = Buffer.alloc(0);
  private dechunk(data: Buffer): Buffer {
    let buf = this.chunkBuf.length === 0 ? data : Buffer.concat([this.chunkBuf, data]);
    const out: Buffer[] = [];
    for (;;) {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, buf.length);
        out.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        this.chunkLeft -= n;
        if (this.chunkLeft > 0) {
          break;
        }
        this.chunkLeft = -2; // the CRLF after the chunk
      }
      if (this.chunkLeft === -2) {
        if (buf.length < 2) {
          break;
        }
        buf = buf.subarray(2);
        this.chunkLeft = 0;
      }
      const line = buf.indexOf('\r\n');
      if (line < 0) {
        break;
      }
      this.chunkLeft = parseInt(buf.toString('latin1', 0, line), 16);
      buf = buf.subarray(line + 2);
      if (!Number.isFinite(this.chunkLeft) || this.chunkLeft === 0) {
        this.chunkLeft = 0;
        break;
      }
    }
    this.chunkBuf = Buffer.from(buf);
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}
