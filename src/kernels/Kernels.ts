/**
 * The hot-path primitives of the data plane behind one interface (architecture.md §3, style rules
 * 7, 8 and 12), with two implementations of the very same signatures: the TypeScript kernels
 * (`ts/`, the reference) and the optional native addon (`native/`, ../../native/), which must
 * produce the same bytes (test/unit/kernels). Hence the addon rules:
 *
 * - **Caller allocates.** Every kernel writes into a buffer the caller owns and returns a length;
 *   nothing here allocates a result (the TS kernels cannot avoid Node's own `cipher.update()`
 *   output, which they copy into the caller's buffer).
 * - **Opaque keys.** A session key becomes a `PacketKey` once (`createPacketKey`), which holds the
 *   persistent AES state: one cipher and one decipher per key, never `createCipheriv` per packet.
 *   The native addon returns an external object here: keys of one implementation only work
 *   with that implementation (the native one throws a TypeError on a foreign key).
 * - **Trusted arguments.** Offsets and lengths are checked by the caller (rule 7), not here; the
 *   only input that is validated is the datagram itself (length, checksum).
 * - **Single-threaded use.** A `PacketKey` carries CBC chain state between calls: use it from one
 *   thread, one call at a time (each worker creates its own keys).
 *
 * RTMFP datagram layout (rtmfp.md §1.1): `scrambled SSID (4) | AES-128-CBC, zero IV, of:
 * checksum (2) | flags | [timestamp] [echo] | chunks | 0xFF padding to a multiple of 16`.
 */

declare const packetKeyBrand: unique symbol;

/** A session key with its persistent cipher state; made by `Kernels.createPacketKey`. */
export interface PacketKey {
  readonly [packetKeyBrand]: true;
}

/** Bytes of the scrambled session ID in front of the ciphertext. */
export const RTMFP_SSID_SIZE = 4;
/**
 * Where the plaintext content (the flags byte) starts in a packet buffer given to
 * `encryptPacket`: bytes [0, 4) are left for the SSID and [4, 6) for the checksum.
 */
export const RTMFP_CONTENT_OFFSET = 6;
/** Largest encrypted datagram we send: Cumulus/MonaServer cap packets at 1192 bytes. */
export const RTMFP_MAX_DATAGRAM = 1192;
/**
 * Largest content (flags through the last chunk) that still fits `RTMFP_MAX_DATAGRAM` once the
 * checksum and padding are added: 4 + 1184 = 1188 bytes on the wire.
 */
export const RTMFP_MAX_CONTENT = 1182;

/** Datagram length for a packet buffer whose content ends at `end` (content starts at 6). */
export const rtmfpDatagramLength = (end: number): number => RTMFP_SSID_SIZE + ((end - RTMFP_SSID_SIZE + 15) & ~15);

/** `decryptPacket` results below zero. */
export const DECRYPT_BAD_LENGTH = -1;
/** The checksum, or the HMAC of a key made with `hmacKey`, does not match. */
export const DECRYPT_BAD_CHECKSUM = -2;
/** A session sequence number already received, or older than the window (keys with `sequenceNumbers`). */
export const DECRYPT_REPLAYED = -3;

/**
 * The RFC 7425 §4.6 packet options a session negotiated in its key components (rtmfp.md §1.1,
 * §2.3): what a key adds to the packets it seals and checks on the ones it opens. Flash and
 * librtmfp never negotiate them; rtmfp-cpp requires both by default.
 *
 * With `hmacKey`, the checksum field is gone and the first `hmacLength` bytes of
 * HMAC-SHA-256(hmacKey, ciphertext) follow the ciphertext. With `sequenceNumbers`, the plaintext
 * starts with a VLU session sequence number (0, 1, 2... per sealing key), before the checksum if
 * there is one; an opening key refuses a number it already accepted or 32 below the highest.
 * Opened packets are laid out as without options: content from `outOffset + 2`.
 */
export interface PacketKeyOptions {
  /** The 32-byte HMAC-SHA-256 key of this direction. */
  hmacKey?: Uint8Array;
  /** Bytes of the tag, 4 to 32 (required with `hmacKey`). */
  hmacLength?: number;
  sequenceNumbers?: boolean;
}

/** The most a key with options adds to `rtmfpDatagramLength` (a 7-byte sequence number, a longer padding, a 32-byte tag). */
export const RTMFP_OPTIONS_ROOM = 16 + 32;
/** Largest sequence number VLU (7 bytes): 2^49 packets, never reached. */
export const SEQUENCE_NUMBER_MAX_BYTES = 7;
/** How far below the highest accepted session sequence number a late packet is still accepted (rtmfp-cpp's MAX_SSEQ_GAP). */
export const SEQUENCE_WINDOW = 32;

/**
 * One media payload to many sessions (architecture.md §4 step 3). Session `i` gets the plaintext
 * `heads[headOffsets[i], headOffsets[i + 1])` (its flags, timestamps and chunk headers, which
 * differ per session) followed by the shared payload, then padding, checksum, encryption with
 * `keys[i]` and the scrambled `ssids[i]`.
 */
export interface FanOutBatch {
  count: number;
  keys: PacketKey[];
  ssids: Uint32Array;
  heads: Buffer;
  /** `count + 1` entries. */
  headOffsets: Uint32Array;
}

/**
 * Many sealed packets at once (architecture.md §4 step 4: what one event-loop turn sends on one
 * socket): packet `i` is `packets[starts[i], ends[i])`, laid out as for `encryptPacket` (6 bytes
 * for SSID and checksum, then the content), with room after it for the padding
 * (`starts[i] + rtmfpDatagramLength(ends[i] - starts[i])`), sealed with `keys[i]` and `ssids[i]`.
 */
export interface PacketBatch {
  count: number;
  keys: PacketKey[];
  ssids: Uint32Array;
  packets: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
}

/**
 * Datagrams of many sessions opened at once (what one recvmmsg read): datagram `i` is
 * `datagrams[starts[i], ends[i])`, SSID included, opened with `keys[i]` in place 4 bytes to the
 * left (the plaintext, checksum first, at `starts[i] + 4`), as `decryptPacket(key, datagrams,
 * start, end, datagrams, start + 4)` would.
 */
export interface DecryptBatch {
  count: number;
  keys: PacketKey[];
  datagrams: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
}

export interface Kernels {
  /** `'ts'` or `'native'`, for logs and benchmarks. */
  readonly name: string;

  /**
   * RFC 1071 ones'-complement checksum of `buf[start, end)` as RTMFP uses it (rtmfp.md §1.1):
   * big-endian 16-bit words, an odd trailing byte added as a plain (unshifted) byte, carries
   * folded, result inverted.
   */
  checksum(buf: Uint8Array, start: number, end: number): number;

  /**
   * Wraps a 16-byte AES-128 key; without options the result may serve both directions (the
   * default key). With options (PacketKeyOptions) it serves one direction of one session.
   */
  createPacketKey(key: Uint8Array, options?: PacketKeyOptions): PacketKey;

  /** The datagram length `encryptPacket(key, ssid, packet, end, ...)` would return now (`out` needs that much room). */
  sealedLength(key: PacketKey, end: number): number;

  /**
   * Seals one packet. `packet[6, end)` holds the content (flags, timestamps, chunks); the kernel
   * pads it with 0xFF (so `packet` needs room up to `rtmfpDatagramLength(end)`), writes the
   * checksum at [4, 6), encrypts [4, padded end) with `key` and writes the datagram, scrambled
   * `ssid` first, at `out[outOffset...]`. `out` may be `packet` itself with `outOffset` 0.
   * `packet` is scratch during the call: bytes past `end` are overwritten.
   * Returns the datagram length (`rtmfpDatagramLength(end)`).
   */
  encryptPacket(key: PacketKey, ssid: number, packet: Buffer, end: number, out: Buffer, outOffset: number): number;

  /**
   * Opens one datagram `datagram[start, end)` (SSID included; the caller already read it to pick
   * `key`). Writes the plaintext, checksum first, to `out[outOffset...]` (`out` may be `datagram`
   * with `outOffset === start`: decryption in place) and verifies the checksum. Returns the
   * plaintext length (`end - start - 4`; content starts at `outOffset + 2`), or
   * `DECRYPT_BAD_LENGTH` (ciphertext empty or not a multiple of 16) or `DECRYPT_BAD_CHECKSUM`.
   */
  decryptPacket(key: PacketKey, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number;

  /**
   * Opens every datagram of `batch` in place (see DecryptBatch) and verifies its checksum;
   * `results[i]` gets what `decryptPacket` returns for it: the plaintext length, or
   * `DECRYPT_BAD_LENGTH` / `DECRYPT_BAD_CHECKSUM`.
   */
  decryptPackets(batch: DecryptBatch, results: Int32Array): void;

  /**
   * Seals every packet of `batch` as `encryptPacket` would (the packets are scratch: padding and
   * checksum are written in place) into `out` back to back from offset 0; `outOffsets` (`count
   * + 1` entries) receives where each datagram starts and the end of the last. Returns the total
   * length. `out` must not overlap `batch.packets`.
   */
  encryptPackets(batch: PacketBatch, out: Buffer, outOffsets: Uint32Array): number;

  /**
   * Fan-out: one datagram per session of `batch` for the shared `payload[payloadStart,
   * payloadEnd)`, written back to back into `out` from offset 0; `outOffsets` (`count + 1`
   * entries) receives where each starts and the end of the last. Returns the total length.
   * `out` must hold the sum of `rtmfpDatagramLength(6 + headLength + payloadLength)` and must
   * not overlap `payload` or `batch.heads`.
   */
  encryptFanOut(
    batch: FanOutBatch,
    payload: Buffer,
    payloadStart: number,
    payloadEnd: number,
    out: Buffer,
    outOffsets: Uint32Array,
  ): number;
}
