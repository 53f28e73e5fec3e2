/**
 * RPC arguments of `server:send(handler, ...)` as MonaServer encodes them (mona-api.md §2.6): an
 * AMF0 stream in which strings, integers, byte strings, dates and tables switch to AMF3 with the
 * 0x11 marker, while other numbers, booleans and nil stay AMF0. A byte string (a Lua string, a
 * media packet) is an AMF3 *string* holding the raw bytes, exactly as Mona sends it
 * (`11 06 <length> <bytes>`), and is read back as a Buffer, never decoded as text.
 *
 * Byte strings are not copied: the encoded message is a list of parts where each one is its own
 * part, between the bytes the AMF writer produced. AMF3 reference tables span the whole message
 * (the reader numbers every inline string), so the writer is shown a unique stand-in string for
 * each byte string it does not write itself; the stand-in's bytes are cut out.
 */
import { AmfReader, AmfWriter } from '../amf/index.js';

/** One encoded message body: parts written one after the other (one socket writev). */
export interface MeshPayload {
  readonly parts: readonly Buffer[];
  readonly length: number;
}

const AVMPLUS = 0x11;
const AMF3_STRING = 0x06;
/** Largest AMF3 inline string (U28). */
const MAX_STRING = 0x0fffffff;

const writer = new AmfWriter(1024);
let standIns = 0;

const u29Header = (length: number): Buffer => {
  const v = (length << 1) | 1;
  if (v < 0x80) {
    return Buffer.from([AVMPLUS, AMF3_STRING, v]);
  }
  if (v < 0x4000) {
    return Buffer.from([AVMPLUS, AMF3_STRING, (v >> 7) | 0x80, v & 0x7f]);
  }
  if (v < 0x200000) {
    return Buffer.from([AVMPLUS, AMF3_STRING, (v >> 14) | 0x80, ((v >> 7) & 0x7f) | 0x80, v & 0x7f]);
  }
  return Buffer.from([AVMPLUS, AMF3_STRING, ((v >> 22) & 0x7f) | 0x80, ((v >> 15) & 0x7f) | 0x80, ((v >> 8) & 0x7f) | 0x80, v & 0xff]);
};

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** Encodes `args` (JS values as the scripting layer gives them: strings, Buffers for bytes, numbers, tables...). */
export const encodeArgs = (args: readonly unknown[]): MeshPayload => {
  writer.reset();
  // [start, end) ranges of the writer's bytes to keep, interleaved with byte strings.
  const plan: Array<number | Uint8Array> = [];
  let keepFrom = 0;
  for (const value of args) {
    if (isBytes(value)) {
      if (value.length > MAX_STRING) {
        throw new RangeError(`a byte string of ${value.length} bytes is too long for AMF3`);
      }
      plan.push(keepFrom, writer.length);
      if (value.length > 0) {
        // Keeps the writer's string numbering in step with the reader's.
        writer.writeAmf3(`\u0000nimbus\u0000${standIns++}`);
        standIns %= 0x7fffffff;
      }
      keepFrom = writer.length;
      plan.push(value);
    } else if (value === null || value === undefined) {
      writer.writeAmf0(null);
    } else if (typeof value === 'boolean' || (typeof value === 'number' && !Number.isInteger(value))) {
      writer.writeAmf0(value);
    } else {
      writer.writeAmf0SwitchToAmf3(value);
    }
  }
  plan.push(keepFrom, writer.length);
  const written = writer.toBuffer();
  const parts: Buffer[] = [];
  let length = 0;
  for (let i = 0; i < plan.length; ) {
    const item = plan[i];
    if (typeof item === 'number') {
      const end = plan[i + 1] as number;
      if (end > item) {
        parts.push(written.subarray(item, end));
        length += end - item;
      }
      i += 2;
    } else {
      const header = u29Header(item.length);
      parts.push(header);
      length += header.length;
      if (item.length > 0) {
        parts.push(Buffer.isBuffer(item) ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength));
        length += item.length;
      }
      i += 1;
    }
  }
  return { parts, length };
};

/** One Buffer holding the whole payload (tests, and peers that want it contiguous). */
export const payloadBytes = (payload: MeshPayload): Buffer =>
  payload.parts.length === 1 ? payload.parts[0] : Buffer.concat(payload.parts, payload.length);

/** The arguments of a received message; strings come back as Buffers (raw bytes, as Lua has them). */
export const decodeArgs = (payload: Buffer): unknown[] => new AmfReader(payload, 0, { binaryStrings: true }).readAllAmf0();
