/**
 * Incremental RTMP chunk stream parser (RTMP spec §5.3): bytes in any split, whole messages out.
 *
 * Payload ownership: a message that arrives whole inside one pushed buffer (one chunk, i.e.
 * chunkSize >= length) is delivered as a `subarray` view of that buffer, without a copy. Callers
 * must therefore never reuse or overwrite a buffer after pushing it. Node socket 'data' buffers are
 * fresh per event, so a socket can push them directly. Multi-chunk messages are assembled into one
 * Buffer sized to the declared length, allocated when the first payload byte arrives (not on the
 * header alone, so a header-only flood costs nothing).
 *
 * After push or the onMessage callback throws, the stream is out of sync: close the session.
 */
import { ProtocolError } from '../../errors.js';
import { DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE } from './constants.js';

export interface RtmpMessage {
  csid: number;
  type: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}

export interface RtmpChunkReaderOptions {
  /** Largest declared message length accepted (default 8 MiB). */
  maxMessageSize?: number;
  /** Most distinct chunk stream ids one peer may use (default 64). */
  maxChunkStreams?: number;
  /** Most bytes held for partial messages of all chunk streams together (default 2 × maxMessageSize). */
  maxPendingBytes?: number;
}

/** 3-byte basic header + 11-byte fmt 0 header + 4-byte extended timestamp. */
const MAX_HEADER_SIZE = 18;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
const EMPTY = Buffer.alloc(0);

/** What the previous header on one csid left behind, which fmt 1/2/3 headers inherit. */
interface ChunkStream {
  readonly csid: number;
  timestamp: number;
  /** Delta that a fmt 3 header starting a new message adds; after fmt 0 it is the absolute timestamp (spec §5.3.1.2.4). */
  delta: number;
  /** The last fmt 0/1/2 header used the extended timestamp, so fmt 3 chunks carry the 4 extra bytes too. */
  extended: boolean;
  length: number;
  type: number;
  streamId: number;
  /** A message is in progress on this csid (some but not all payload read). */
  open: boolean;
  received: number;
  buffer: Buffer | null;
}

const protocolError = (message: string): ProtocolError => new ProtocolError('MS_ERR_RTMP_PROTOCOL', message);

/**
 * Everything a reader knows between two bytes, as plain data (byte arrays exact-size copies): a
 * session moved to a media worker goes on parsing where the main thread stopped, in the middle
 * of a chunk if need be.
 */
export interface RtmpReaderState {
  chunkSize: number;
  bytesReceived: number;
  streams: Array<Omit<ChunkStream, 'buffer'> & { buffer: Uint8Array | null }>;
  /** csid of the chunk whose payload is being read, or -1. */
  current: number;
  chunkLeft: number;
  stash: Uint8Array;
}

export class RtmpChunkReader {
  /** Total bytes pushed, for acknowledgements (the session wraps it to 32 bits). */
  bytesReceived = 0;

  private readonly onMessage: (msg: RtmpMessage) => void;
  private readonly maxMessageSize: number;
  private readonly maxChunkStreams: number;
  /** Bytes allocated for messages still being assembled, across chunk streams (bounded). */
  private pendingBytes = 0;
  private readonly maxPendingBytes: number;
  private readonly streams = new Map<number, ChunkStream>();
  private size = DEFAULT_CHUNK_SIZE;
  /** Chunk whose payload is being read, and how many of its payload bytes are still due. */
  private current: ChunkStream | null = null;
  private chunkLeft = 0;
  /** A header split across pushes waits here (it is never longer than MAX_HEADER_SIZE). */
  private readonly stash = Buffer.allocUnsafe(MAX_HEADER_SIZE);
  private stashLength = 0;
  private failed = false;

  constructor(onMessage: (msg: RtmpMessage) => void, options: RtmpChunkReaderOptions = {}) {
    this.onMessage = onMessage;
    this.maxMessageSize = options.maxMessageSize ?? 8 * 1024 * 1024;
    this.maxChunkStreams = options.maxChunkStreams ?? 64;
    // Interleaved partial messages on many chunk streams must not multiply the per-message limit.
    this.maxPendingBytes = options.maxPendingBytes ?? this.maxMessageSize * 2;
  }

  /** The state to go on from elsewhere (`importState`): partial messages and a split header copied. */
  exportState(): RtmpReaderState {
    const streams: RtmpReaderState['streams'] = [];
    for (const stream of this.streams.values()) {
      const buffer = stream.buffer === null ? null : new Uint8Array(stream.buffer.subarray(0, stream.buffer.length));
      streams.push({ ...stream, buffer });
    }
    return {
      chunkSize: this.size,
      bytesReceived: this.bytesReceived,
      streams,
      current: this.current?.csid ?? -1,
      chunkLeft: this.chunkLeft,
      stash: new Uint8Array(this.stash.subarray(0, this.stashLength)),
    };
  }

  /** Goes on from `state` (a fresh reader, before any push). */
  importState(state: RtmpReaderState): void {
    this.size = state.chunkSize;
    this.bytesReceived = state.bytesReceived;
    this.streams.clear();
    this.pendingBytes = 0;
    for (const s of state.streams) {
      const buffer = s.buffer === null ? null : Buffer.from(s.buffer.buffer, s.buffer.byteOffset, s.buffer.byteLength);
      if (buffer !== null) {
        this.pendingBytes += buffer.length;
      }
      this.streams.set(s.csid, { ...s, buffer });
    }
    this.current = state.current < 0 ? null : (this.streams.get(state.current) ?? null);
    this.chunkLeft = state.chunkLeft;
    this.stash.set(state.stash);
    this.stashLength = state.stash.length;
  }

  /** Incoming chunk size; set it from onMessage on Set Chunk Size, it applies from the next chunk. */
  get chunkSize(): number {
    return this.size;
  }

  set chunkSize(value: number) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_CHUNK_SIZE) {
      throw protocolError(`invalid chunk size ${value}`);
    }
    this.size = value;
  }

  /** Abort message (type 2): forget the partial message of `csid`; its next chunk starts a new one. */
  abort(csid: number): void {
    const stream = this.streams.get(csid);
    if (stream !== undefined && stream !== this.current) {
      stream.open = false;
      stream.received = 0;
      if (stream.buffer !== null) {
        this.pendingBytes -= stream.buffer.length;
      }
      stream.buffer = null;
    }
  }

  push(data: Buffer): void {
    if (this.failed) {
      throw protocolError('chunk stream already failed');
    }
    this.bytesReceived += data.length;
    try {
      this.parse(data);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  private parse(data: Buffer): void {
    let offset = 0;
    if (this.stashLength > 0) {
      offset = this.resumeHeader(data);
      if (offset < 0) {
        return;
      }
    }
    while (offset < data.length) {
      if (this.current !== null) {
        offset = this.readPayload(data, offset);
        continue;
      }
      const end = this.readHeader(data, offset, data.length);
      if (end < 0) {
        data.copy(this.stash, 0, offset);
        this.stashLength = data.length - offset;
        return;
      }
      offset = end;
    }
  }

  /** Complete a stashed header with the head of `data`; returns the offset in `data` after it, or -1. */
  private resumeHeader(data: Buffer): number {
    const had = this.stashLength;
    const taken = Math.min(MAX_HEADER_SIZE - had, data.length);
    data.copy(this.stash, had, 0, taken);
    const end = this.readHeader(this.stash, 0, had + taken);
    if (end < 0) {
      // Only possible when data ran out: a full MAX_HEADER_SIZE always parses.
      this.stashLength = had + taken;
      return -1;
    }
    this.stashLength = 0;
    return end - had;
  }

  /**
   * Parse one chunk header at buf[offset..limit). Returns the offset after it, or -1 (without
   * touching any state) when the header is not complete yet.
   */
  private readHeader(buf: Buffer, offset: number, limit: number): number {
    if (offset >= limit) {
      return -1;
    }
    const first = buf[offset];
    const fmt = first >> 6;
    let csid = first & 0x3f;
    let p = offset + 1;
    if (csid === 0) {
      if (p + 1 > limit) {
        return -1;
      }
      csid = buf[p] + 64;
      p += 1;
    } else if (csid === 1) {
      if (p + 2 > limit) {
        return -1;
      }
      csid = buf[p] + buf[p + 1] * 256 + 64;
      p += 2;
    }
    const headerSize = MESSAGE_HEADER_SIZE[fmt as 0 | 1 | 2 | 3];
    if (p + headerSize > limit) {
      return -1;
    }
    let stream = this.streams.get(csid);
    if (stream === undefined && fmt !== 0) {
      throw protocolError(`chunk fmt ${fmt} on unknown chunk stream ${csid}`);
    }
    const field = fmt === 3 ? 0 : buf.readUIntBE(p, 3);
    const extended = fmt === 3 ? stream!.extended : field === EXTENDED_TIMESTAMP;
    const end = p + headerSize + (extended ? 4 : 0);
    if (end > limit) {
      return -1;
    }
    // Complete header: from here on state may change.
    const time = extended ? buf.readUInt32BE(p + headerSize) : field;
    if (stream === undefined) {
      if (this.streams.size >= this.maxChunkStreams) {
        throw protocolError(`more than ${this.maxChunkStreams} chunk streams`);
      }
      stream = {
        csid, timestamp: 0, delta: 0, extended: false, length: 0, type: 0, streamId: 0,
        open: false, received: 0, buffer: null,
      };
      this.streams.set(csid, stream);
    }
    if (fmt === 3 && stream.open) {
      // Continuation chunk: the (possibly repeated) extended timestamp carries nothing new.
      this.startChunk(stream);
      return end;
    }
    if (stream.open) {
      throw protocolError(`fmt ${fmt} header in the middle of a message on chunk stream ${csid}`);
    }
    switch (fmt) {
      case 0:
        stream.timestamp = time;
        stream.delta = time;
        stream.length = buf.readUIntBE(p + 3, 3);
        stream.type = buf[p + 6];
        stream.streamId = buf.readUInt32LE(p + 7);
        break;
      case 1:
        stream.delta = time;
        stream.length = buf.readUIntBE(p + 3, 3);
        stream.type = buf[p + 6];
        break;
      case 2:
        stream.delta = time;
        break;
      default:
        break;
    }
    if (fmt !== 0) {
      stream.timestamp = (stream.timestamp + stream.delta) >>> 0;
    }
    if (fmt !== 3) {
      stream.extended = extended;
    }
    if (stream.length > this.maxMessageSize) {
      throw new ProtocolError(
        'MS_ERR_RTMP_MESSAGE_TOO_LARGE',
        `message of ${stream.length} bytes on chunk stream ${csid} exceeds ${this.maxMessageSize}`,
      );
    }
    if (stream.length === 0) {
      this.deliver(stream, EMPTY);
      return end;
    }
    stream.open = true;
    stream.received = 0;
    this.startChunk(stream);
    return end;
  }

  private startChunk(stream: ChunkStream): void {
    this.current = stream;
    this.chunkLeft = Math.min(this.size, stream.length - stream.received);
  }

  private readPayload(data: Buffer, offset: number): number {
    const stream = this.current!;
    const available = data.length - offset;
    if (stream.received === 0 && this.chunkLeft === stream.length && available >= stream.length) {
      // Whole message in one chunk inside this buffer: hand out a view, no copy.
      this.current = null;
      stream.open = false;
      this.deliver(stream, data.subarray(offset, offset + stream.length));
      return offset + stream.length;
    }
    if (stream.buffer === null) {
      if (this.pendingBytes + stream.length > this.maxPendingBytes) {
        throw new ProtocolError(
          'MS_ERR_RTMP_MESSAGE_TOO_LARGE',
          `partial messages would hold ${this.pendingBytes + stream.length} bytes, over ${this.maxPendingBytes}`,
        );
      }
      this.pendingBytes += stream.length;
      stream.buffer = Buffer.allocUnsafe(stream.length);
    }
    const n = Math.min(this.chunkLeft, available);
    data.copy(stream.buffer, stream.received, offset, offset + n);
    stream.received += n;
    this.chunkLeft -= n;
    if (this.chunkLeft === 0) {
      this.current = null;
      if (stream.received === stream.length) {
        const payload = stream.buffer;
        this.pendingBytes -= payload.length;
        stream.buffer = null;
        stream.received = 0;
        stream.open = false;
        this.deliver(stream, payload);
      }
    }
    return offset + n;
  }

  /** State is settled before the callback so it may change chunkSize or abort streams. */
  private deliver(stream: ChunkStream, payload: Buffer): void {
    this.onMessage({
      csid: stream.csid,
      type: stream.type,
      streamId: stream.streamId,
      timestamp: stream.timestamp,
      payload,
    });
  }
}
