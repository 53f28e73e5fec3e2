/**
 * MonaServer 1.x mesh framing (mona-api.md §2.3), big-endian:
 *
 * ```
 * u32 size                         bytes after this field
 * u8  handlerLength                0..255
 * handlerLength > 0: the handler name (the receiver numbers it: ref = names received so far + 1)
 * handlerLength = 0: varint ref    0 = control frame (HELLO, REJECT...), > 0 = a name sent before
 * payload                          the rest of the frame
 * ```
 *
 * The varint is LSB-first base 128 (.NET's 7-bit encoding). Handler-name compression is per
 * direction and per connection: the first use of a name sends it, later uses send `00 <ref>`.
 */
import { MeshError } from '../errors.js';

export const MAX_HANDLER_BYTES = 255;
/** Size field + handler length + the longest name: room for any header. */
export const MAX_HEADER_BYTES = 4 + 1 + MAX_HANDLER_BYTES;

export const varintSize = (value: number): number => {
  let n = 1;
  for (let v = value >>> 7; v !== 0; v >>>= 7) {
    n++;
  }
  return n;
};

/** Writes `value` (0..2^32-1) at `offset`; returns the offset after it. */
export const writeVarint = (buf: Buffer, offset: number, value: number): number => {
  let v = value >>> 0;
  while (v >= 0x80) {
    buf[offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[offset++] = v;
  return offset;
};

/** Where a varint read stopped: reused, so reading allocates nothing. */
export interface VarintCursor {
  pos: number;
}

/** The varint at `cursor.pos` (advancing it), or -1 when it runs past `end` or past 32 bits. */
export const readVarint = (buf: Buffer, cursor: VarintCursor, end: number): number => {
  let value = 0;
  let shift = 0;
  let pos = cursor.pos;
  while (pos < end && shift < 35) {
    const byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      cursor.pos = pos;
      return value <= 0xffffffff ? value : -1;
    }
    shift += 7;
  }
  return -1;
};

/** Sending side of one connection: frame headers, with the handler names this side has numbered. */
export class MeshFrameEncoder {
  private readonly refs = new Map<string, number>();

  /** Handler names given their number so far. */
  get handlerCount(): number {
    return this.refs.size;
  }

  /**
   * The header of a frame whose payload is `payloadLength` bytes, for `handler` (null: a control
   * frame). A name is checked by the caller (`checkHandler`), so this never throws.
   */
  header(handler: string | null, payloadLength: number): Buffer {
    if (handler === null) {
      const header = Buffer.allocUnsafe(6);
      header.writeUInt32BE(payloadLength + 2, 0);
      header[4] = 0;
      header[5] = 0;
      return header;
    }
    const ref = this.refs.get(handler);
    if (ref !== undefined) {
      const size = varintSize(ref);
      const header = Buffer.allocUnsafe(5 + size);
      header.writeUInt32BE(payloadLength + 1 + size, 0);
      header[4] = 0;
      writeVarint(header, 5, ref);
      return header;
    }
    this.refs.set(handler, this.refs.size + 1);
    const length = Buffer.byteLength(handler, 'utf8');
    const header = Buffer.allocUnsafe(5 + length);
    header.writeUInt32BE(payloadLength + 1 + length, 0);
    header[4] = length;
    header.write(handler, 5, 'utf8');
    return header;
  }

  /** Both directions start over on a new connection. */
  reset(): void {
    this.refs.clear();
  }
}

/** A handler name scripts may send: not empty, not ".", at most 255 bytes. Throws a MeshError otherwise. */
export const checkHandler = (handler: string): void => {
  if (handler === '' || handler === '.') {
    throw new MeshError('MS_ERR_MESH_HANDLER', `invalid handler name "${handler}"`);
  }
  if (Buffer.byteLength(handler, 'utf8') > MAX_HANDLER_BYTES) {
    throw new MeshError('MS_ERR_MESH_HANDLER', `handler name "${handler.slice(0, 40)}..." is longer than ${MAX_HANDLER_BYTES} bytes`);
  }
};

/** A decoded frame goes here: `handler` null for a control frame; `payload` is valid only during the call. */
export type FrameHandler = (handler: string | null, payload: Buffer) => void;

/**
 * Receiving side of one connection: cuts the byte stream into frames and resolves handler
 * references. A frame that lies inside one received chunk is handed over as a view (no copy); a
 * frame split across chunks is assembled once into a buffer of its announced size. Anything
 * malformed (size 0 or past `maxFrameSize`, a name running past its frame, an unknown reference)
 * returns a MeshError and the decoder must not be fed again.
 */
export class MeshFrameDecoder {
  private readonly names: string[] = [];
  private readonly sizeBytes = Buffer.alloc(4);
  private sizeFilled = 0;
  /** A frame being assembled across chunks, and how much of it arrived. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  private readonly cursor: VarintCursor = { pos: 0 };

  constructor(
    private readonly maxFrameSize: number,
    private readonly onFrame: FrameHandler,
  ) {}

  /** Feeds received bytes; returns null, or the error that must close the link. */
  push(chunk: Buffer): MeshError | null {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      const partial = this.partial;
      if (partial !== null) {
        const n = Math.min(partial.length - this.partialFilled, end - pos);
        chunk.copy(partial, this.partialFilled, pos, pos + n);
        this.partialFilled += n;
        pos += n;
        if (this.partialFilled < partial.length) {
          return null;
        }
        this.partial = null;
        const error = this.frame(partial);
        if (error !== null) {
          return error;
        }
        continue;
      }
      let size: number;
      if (this.sizeFilled === 0 && end - pos >= 4) {
        size = chunk.readUInt32BE(pos);
        pos += 4;
      } else {
        const n = Math.min(4 - this.sizeFilled, end - pos);
        chunk.copy(this.sizeBytes, this.sizeFilled, pos, pos + n);
        this.sizeFilled += n;
        pos += n;
        if (this.sizeFilled < 4) {
          return null;
        }
        this.sizeFilled = 0;
        size = this.sizeBytes.readUInt32BE(0);
      }
      if (size === 0 || size > this.maxFrameSize) {
        return new MeshError('MS_ERR_MESH_FRAME', size === 0 ? 'empty frame' : `frame of ${size} bytes exceeds the ${this.maxFrameSize}-byte limit`);
      }
      if (end - pos >= size) {
        const error = this.frame(chunk.subarray(pos, pos + size));
        pos += size;
        if (error !== null) {
          return error;
        }
      } else {
        this.partial = Buffer.allocUnsafe(size);
        this.partialFilled = 0;
      }
    }
    return null;
  }

  private frame(body: Buffer): MeshError | null {
    const nameLength = body[0];
    if (nameLength > 0) {
      if (1 + nameLength > body.length) {
        return new MeshError('MS_ERR_MESH_FRAME', `handler name of ${nameLength} bytes runs past its ${body.length}-byte frame`);
      }
      const name = body.toString('utf8', 1, 1 + nameLength);
      this.names.push(name);
      this.onFrame(name, body.subarray(1 + nameLength));
      return null;
    }
    this.cursor.pos = 1;
    const ref = readVarint(body, this.cursor, body.length);
    if (ref < 0) {
      return new MeshError('MS_ERR_MESH_FRAME', 'handler reference runs past its frame');
    }
    if (ref > this.names.length) {
      return new MeshError('MS_ERR_MESH_FRAME', `unknown handler reference ${ref} (${this.names.length} names received)`);
    }
    this.onFrame(ref === 0 ? null : this.names[ref - 1], body.subarray(this.cursor.pos));
    return null;
  }
}
