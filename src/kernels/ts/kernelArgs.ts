/**
 * The argument checks of the kernels, for the TS implementation: the same refusals, with the
 * same error class and message, as the native addon's (native/src/addon.cc), so that both agree
 * on misuse as they agree on bytes (a short output buffer, an overlap, a range past a buffer:
 * RangeError; test/unit/kernels/nativeEqualsTs.test.ts). Callers are the project's own code;
 * these keep a bug from writing past a buffer or producing half a batch in one implementation only.
 */
import { type PacketKey, type PacketKeyOptions, RTMFP_CONTENT_OFFSET, RTMFP_SSID_SIZE, rtmfpDatagramLength } from '../Kernels.js';

export const within = (start: number, n: number, length: number): boolean => start >= 0 && n >= 0 && n <= length && start <= length - n;

const refuse = (message: string): never => {
  throw new RangeError(message);
};

export const checkChecksum = (buf: Uint8Array, start: number, end: number): void => {
  if (!within(start, end - start, buf.length)) {
    refuse('checksum range out of bounds');
  }
};

export const checkKey = (key: Uint8Array, options: PacketKeyOptions | undefined): void => {
  if (key.length !== 16) {
    refuse('an AES-128 key is 16 bytes');
  }
  if (options?.hmacKey !== undefined && options.hmacKey.length !== 32) {
    refuse('an HMAC-SHA-256 key is 32 bytes');
  }
  const tag = options?.hmacLength ?? 0;
  if (options?.hmacKey !== undefined && (!Number.isInteger(tag) || tag < 4 || tag > 32)) {
    refuse('an HMAC tag is 4 to 32 bytes');
  }
};

/** `sealed` = the datagram length for this key (sealedLength). */
export const checkEncryptPacket = (packet: Uint8Array, end: number, out: Uint8Array, outOffset: number, sealed: number): void => {
  if (end < RTMFP_CONTENT_OFFSET) {
    refuse('packet end before the content offset');
  }
  if (!within(0, rtmfpDatagramLength(end), packet.length) || !within(outOffset, sealed, out.length)) {
    refuse('packet or output buffer too short for the padded datagram');
  }
};

/** After the length check (a bad length is a result, not an error, in both). */
export const checkDecryptPacket = (datagram: Uint8Array, start: number, end: number, out: Uint8Array, outOffset: number): void => {
  const length = end - start;
  if (!within(start, length, datagram.length) || !within(outOffset, length - RTMFP_SSID_SIZE, out.length)) {
    refuse('datagram or output range out of bounds');
  }
};

export const checkFanOut = (
  count: number,
  keys: readonly PacketKey[],
  ssids: Uint32Array,
  heads: Uint8Array,
  headOffsets: Uint32Array,
  payload: Uint8Array,
  payloadStart: number,
  payloadEnd: number,
  out: Uint8Array,
  outOffsets: Uint32Array,
  sealedLength: (key: PacketKey, end: number) => number,
): void => {
  if (count < 0 || count > 0xffffffff / 4) {
    refuse('fan-out batch count out of range');
  }
  if (keys.length < count || ssids.length < count || headOffsets.length < count + 1 || outOffsets.length < count + 1 ||
    !within(payloadStart, payloadEnd - payloadStart, payload.length)) {
    refuse('fan-out batch arrays or payload range out of bounds');
  }
  let need = 0;
  for (let i = 0; i < count; i++) {
    if (headOffsets[i + 1] < headOffsets[i] || headOffsets[i + 1] > heads.length) {
      refuse('fan-out head offsets out of bounds');
    }
    need += sealedLength(keys[i], RTMFP_CONTENT_OFFSET + headOffsets[i + 1] - headOffsets[i] + payloadEnd - payloadStart);
  }
  if (need > out.length) {
    refuse('output buffer too short');
  }
};

export const checkDecryptPackets = (count: number, keys: readonly unknown[], datagrams: Uint8Array, starts: Uint32Array, ends: Uint32Array, results: Int32Array): void => {
  if (count < 0 || count > 0xffffffff / 4) {
    refuse('decrypt batch count out of range');
  }
  if (keys.length < count || starts.length < count || ends.length < count || results.length < count) {
    refuse('decrypt batch arrays too short');
  }
  for (let i = 0; i < count; i++) {
    if (ends[i] < starts[i] || !within(starts[i], ends[i] - starts[i], datagrams.length)) {
      refuse('decrypt batch: a datagram is out of bounds');
    }
  }
};

export const checkEncryptPackets = (
  count: number,
  keys: readonly PacketKey[],
  ssids: Uint32Array,
  packets: Uint8Array,
  starts: Uint32Array,
  ends: Uint32Array,
  out: Uint8Array,
  outOffsets: Uint32Array,
  sealedLength: (key: PacketKey, end: number) => number,
): void => {
  if (count < 0 || count > 0xffffffff / 4 - 1) {
    refuse('packet batch count out of range');
  }
  if (keys.length < count || ssids.length < count || starts.length < count || ends.length < count || outOffsets.length < count + 1) {
    refuse('packet batch arrays too short');
  }
  let need = 0;
  for (let i = 0; i < count; i++) {
    if (ends[i] < starts[i] + RTMFP_CONTENT_OFFSET || !within(starts[i], rtmfpDatagramLength(ends[i] - starts[i]), packets.length)) {
      refuse('packet batch: a packet is out of bounds (or has no room for its padding)');
    }
    need += sealedLength(keys[i], ends[i] - starts[i]);
  }
  if (out.buffer === packets.buffer && out.byteOffset < packets.byteOffset + packets.length && packets.byteOffset < out.byteOffset + out.length) {
    refuse('packet batch: out overlaps the packets');
  }
  if (need > out.length) {
    refuse('output buffer too short');
  }
};
