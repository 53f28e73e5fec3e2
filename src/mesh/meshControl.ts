/**
 * Control frames (ref 0) and the app-sync payload, MonaServer 1.x wire (mona-api.md §2.4, §2.5).
 * A control payload starts with one byte: 1 HELLO (then `string key, string value` pairs up to
 * the end), 0 REJECT (then `string reason`). Strings are a varint length then the bytes.
 *
 * Two more kinds exist only between Nimbus instances, and are sent only to a peer whose HELLO
 * says it speaks them (`nimbus.version`): 2 AUTH (`string proof`, the answer to the secret's
 * challenge) and 3 PING (nothing else: a heartbeat on an idle link). MonaServer reads any byte
 * other than 0 as HELLO, so it must never see them.
 */
import { MeshError } from '../errors.js';
import { type VarintCursor, readVarint, varintSize, writeVarint } from './MeshCodec.js';

export const Control = { REJECT: 0, HELLO: 1, AUTH: 2, PING: 3 } as const;
export type Control = (typeof Control)[keyof typeof Control];

export type ControlFrame =
  | { kind: typeof Control.HELLO; settings: Map<string, string> }
  | { kind: typeof Control.REJECT; reason: string }
  | { kind: typeof Control.AUTH; proof: string }
  | { kind: typeof Control.PING };

/** Strings in order, each as varint length + UTF-8 bytes, after an optional leading byte. */
const writeStrings = (lead: number | null, strings: readonly string[]): Buffer => {
  let size = lead === null ? 0 : 1;
  const lengths = strings.map((s) => Buffer.byteLength(s, 'utf8'));
  for (const length of lengths) {
    size += varintSize(length) + length;
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  if (lead !== null) {
    out[o++] = lead;
  }
  for (let i = 0; i < strings.length; i++) {
    o = writeVarint(out, o, lengths[i]);
    o += out.write(strings[i], o, 'utf8');
  }
  return out;
};

/** Strings from `from` to the end; null when one runs past the end. */
const readStrings = (payload: Buffer, from: number): string[] | null => {
  const cursor: VarintCursor = { pos: from };
  const out: string[] = [];
  while (cursor.pos < payload.length) {
    const length = readVarint(payload, cursor, payload.length);
    if (length < 0 || cursor.pos + length > payload.length) {
      return null;
    }
    out.push(payload.toString('utf8', cursor.pos, cursor.pos + length));
    cursor.pos += length;
  }
  return out;
};

export const helloPayload = (settings: ReadonlyMap<string, string>): Buffer => {
  const strings: string[] = [];
  for (const [key, value] of settings) {
    strings.push(key, value);
  }
  return writeStrings(Control.HELLO, strings);
};

export const rejectPayload = (reason: string): Buffer => writeStrings(Control.REJECT, [reason]);

export const authPayload = (proof: string): Buffer => writeStrings(Control.AUTH, [proof]);

export const PING_PAYLOAD: Buffer = Buffer.from([Control.PING]);

const malformed = (what: string): MeshError => new MeshError('MS_ERR_MESH_FRAME', `malformed ${what} frame`);

/** Reads a control payload; a MeshError for anything malformed or unknown. */
export const readControl = (payload: Buffer): ControlFrame | MeshError => {
  if (payload.length === 0) {
    return malformed('control');
  }
  const kind = payload[0];
  switch (kind) {
    case Control.HELLO: {
      const strings = readStrings(payload, 1);
      if (strings === null || strings.length % 2 !== 0) {
        return malformed('HELLO');
      }
      const settings = new Map<string, string>();
      for (let i = 0; i < strings.length; i += 2) {
        settings.set(strings[i], strings[i + 1]);
      }
      return { kind, settings };
    }
    case Control.REJECT: {
      const strings = readStrings(payload, 1);
      return strings === null ? malformed('REJECT') : { kind, reason: strings[0] ?? 'Unknown error' };
    }
    case Control.AUTH: {
      const strings = readStrings(payload, 1);
      return strings?.length !== 1 ? malformed('AUTH') : { kind, proof: strings[0] };
    }
    case Control.PING: {
      return payload.length === 1 ? { kind } : malformed('PING');
    }
    default: {
      return new MeshError('MS_ERR_MESH_FRAME', `unknown control frame ${kind}`);
    }
  }
};

/** The "." message: app paths (root = ""). */
export const appSyncPayload = (paths: readonly string[]): Buffer => writeStrings(null, paths);

export const readAppSync = (payload: Buffer): string[] | MeshError => readStrings(payload, 0) ?? malformed('"." (app sync)');
