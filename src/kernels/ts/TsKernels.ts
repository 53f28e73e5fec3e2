/**
 * The pure-TypeScript kernels: the reference implementation every native kernel must match byte
 * for byte, and the fallback when no addon is built. See `../Kernels.ts` for the contract.
 */
import type { DecryptBatch, FanOutBatch, Kernels, PacketBatch, PacketKey, PacketKeyOptions } from '../Kernels.js';
import { DECRYPT_BAD_CHECKSUM, DECRYPT_BAD_LENGTH, DECRYPT_REPLAYED, RTMFP_CONTENT_OFFSET, RTMFP_SSID_SIZE, rtmfpDatagramLength } from '../Kernels.js';
import { readVlu, writeVlu } from './PacketOptions.js';
import { checksum, foldSum, paritySums, wordSum } from './checksum.js';
import { TsPacketKey } from './TsPacketKey.js';
import { checkChecksum, checkDecryptPacket, checkDecryptPackets, checkEncryptPacket, checkEncryptPackets, checkFanOut, checkKey } from './kernelArgs.js';

/** Writes `ssid ^ word(4..8) ^ word(8..12)` of the datagram at `offset` (RFC 7016 §2.2.2). */
export const writeScrambledSsid = (buf: Buffer, offset: number, ssid: number): void => {
  const scrambled = (ssid ^ buf.readUInt32BE(offset + 4) ^ buf.readUInt32BE(offset + 8)) >>> 0;
  buf.writeUInt32BE(scrambled, offset);
};

const asKey = (key: PacketKey): TsPacketKey => key as unknown as TsPacketKey;

/** Padding from the checksum field: `2 + content + pad` is a multiple of 16. */
const paddedBodyLength = (contentLength: number): number => (contentLength + 2 + 15) & ~15;

/** Scratch growth step (style rule 8). */
const SCRATCH_STEP = 4096;

/** Ciphertext length of `length` plaintext bytes with options: padded to 16, never empty. */
const optionBodyLength = (length: number): number => Math.max(16, (length + 15) & ~15);

/** Datagram length of a packet whose content ends at `end` once `key` sealed it. */
const sealedLengthOf = (key: PacketKey, end: number): number => {
  const options = asKey(key).options;
  if (options === null) {
    return rtmfpDatagramLength(end);
  }
  return RTMFP_SSID_SIZE + optionBodyLength(options.front() + end - RTMFP_CONTENT_OFFSET) + options.hmacLength;
};

export class TsKernels implements Kernels {
  readonly name = 'ts';
  /** Fan-out scratch: per-session heads right-aligned before one shared copy of the payload. */
  private scratch = Buffer.alloc(SCRATCH_STEP);
  private readonly parity = new Float64Array(2);
  /** Plaintext of a packet sealed or opened with RFC 7425 options (its layout differs). */
  private optionScratch = Buffer.alloc(SCRATCH_STEP);

  checksum(buf: Uint8Array, start: number, end: number): number {
    checkChecksum(buf, start, end);
    return checksum(buf, start, end);
  }

  createPacketKey(key: Uint8Array, options?: PacketKeyOptions): PacketKey {
    checkKey(key, options);
    return new TsPacketKey(key, options) as unknown as PacketKey;
  }

  sealedLength(key: PacketKey, end: number): number {
    return sealedLengthOf(key, end);
  }

  encryptPacket(key: PacketKey, ssid: number, packet: Buffer, end: number, out: Buffer, outOffset: number): number {
    checkEncryptPacket(packet, end, out, outOffset, sealedLengthOf(key, end));
    return this.seal(key, ssid, packet, end, out, outOffset);
  }

  private seal(key: PacketKey, ssid: number, packet: Buffer, end: number, out: Buffer, outOffset: number): number {
    if (asKey(key).options !== null) {
      return this.sealWithOptions(asKey(key), ssid, packet, RTMFP_CONTENT_OFFSET, end, null, 0, 0, out, outOffset);
    }
    const bodyEnd = RTMFP_SSID_SIZE + paddedBodyLength(end - RTMFP_CONTENT_OFFSET);
    packet.fill(0xff, end, bodyEnd);
    const sum = checksum(packet, RTMFP_CONTENT_OFFSET, bodyEnd);
    packet[4] = sum >>> 8;
    packet[5] = sum & 0xff;
    asKey(key).encrypt(packet, RTMFP_SSID_SIZE, bodyEnd, out, outOffset + RTMFP_SSID_SIZE);
    writeScrambledSsid(out, outOffset, ssid);
    return bodyEnd;
  }

  decryptPacket(key: PacketKey, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number {
    const length = end - start - RTMFP_SSID_SIZE - (asKey(key).options?.hmacLength ?? 0);
    if (length <= 0 || (length & 15) !== 0) {
      return DECRYPT_BAD_LENGTH;
    }
    checkDecryptPacket(datagram, start, end, out, outOffset);
    return this.open(key, datagram, start, end, out, outOffset);
  }

  /** After the length check. */
  private open(key: PacketKey, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number {
    if (asKey(key).options !== null) {
      return this.openWithOptions(asKey(key), datagram, start, end, out, outOffset);
    }
    const length = end - start - RTMFP_SSID_SIZE;
    asKey(key).decrypt(datagram, start + RTMFP_SSID_SIZE, end, out, outOffset);
    const expected = (out[outOffset] << 8) | out[outOffset + 1];
    return checksum(out, outOffset + 2, outOffset + length) === expected ? length : DECRYPT_BAD_CHECKSUM;
  }

  decryptPackets(batch: DecryptBatch, results: Int32Array): void {
    const { count, keys, datagrams, starts, ends } = batch;
    checkDecryptPackets(count, keys, datagrams, starts, ends, results);
    for (let i = 0; i < count; i++) {
      const length = ends[i] - starts[i] - RTMFP_SSID_SIZE - (asKey(keys[i]).options?.hmacLength ?? 0);
      results[i] = length <= 0 || (length & 15) !== 0 ? DECRYPT_BAD_LENGTH : this.open(keys[i], datagrams, starts[i], ends[i], datagrams, starts[i] + 4);
    }
  }

  encryptPackets(batch: PacketBatch, out: Buffer, outOffsets: Uint32Array): number {
    const { count, keys, ssids, packets, starts, ends } = batch;
    checkEncryptPackets(count, keys, ssids, packets, starts, ends, out, outOffsets, sealedLengthOf);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      outOffsets[i] = offset;
      const packet = packets.subarray(starts[i]);
      offset += this.seal(keys[i], ssids[i], packet, ends[i] - starts[i], out, offset);
    }
    outOffsets[count] = offset;
    return offset;
  }

  encryptFanOut(
    batch: FanOutBatch,
    payload: Buffer,
    payloadStart: number,
    payloadEnd: number,
    out: Buffer,
    outOffsets: Uint32Array,
  ): number {
    const { count, keys, ssids, heads, headOffsets } = batch;
    checkFanOut(count, keys, ssids, heads, headOffsets, payload, payloadStart, payloadEnd, out, outOffsets, sealedLengthOf);
    const payloadLength = payloadEnd - payloadStart;
    let maxHead = 0;
    for (let i = 0; i < count; i++) {
      maxHead = Math.max(maxHead, headOffsets[i + 1] - headOffsets[i]);
    }
    // Layout: [checksum + longest head][payload][16 bytes of 0xFF]; every session's area ends
    // with the same payload, so the payload is copied and summed once for the whole batch.
    const payloadAt = 2 + maxHead;
    const need = payloadAt + payloadLength + 16;
    if (this.scratch.length < need) {
      this.scratch = Buffer.alloc(Math.ceil(need / SCRATCH_STEP) * SCRATCH_STEP);
    }
    const scratch = this.scratch;
    payload.copy(scratch, payloadAt, payloadStart, payloadEnd);
    scratch.fill(0xff, payloadAt + payloadLength, payloadAt + payloadLength + 16);
    paritySums(scratch, payloadAt, payloadAt + payloadLength, this.parity);
    const payloadEven = this.parity[0];
    const payloadOdd = this.parity[1];

    let offset = 0;
    for (let i = 0; i < count; i++) {
      const key = asKey(keys[i]);
      if (key.options !== null) {
        outOffsets[i] = offset;
        offset += this.sealWithOptions(key, ssids[i], heads, headOffsets[i], headOffsets[i + 1], payload, payloadStart, payloadEnd, out, offset);
        continue;
      }
      const headLength = headOffsets[i + 1] - headOffsets[i];
      const headAt = payloadAt - headLength;
      heads.copy(scratch, headAt, headOffsets[i], headOffsets[i + 1]);
      const body = paddedBodyLength(headLength + payloadLength);
      const bodyStart = headAt - 2;
      const padding = body - 2 - headLength - payloadLength;
      // Word sum of [head][payload][padding], relative to headAt (an even position).
      let sum = wordSum(scratch, headAt, payloadAt);
      if ((headLength & 1) === 0) {
        sum += payloadEven * 256 + payloadOdd;
      } else {
        // The head's odd last byte was added unshifted; it is the high byte of a word here.
        sum += scratch[payloadAt - 1] * 255 + payloadOdd * 256 + payloadEven;
      }
      // Padding bytes: 0xFF each, high or low half of a word by position.
      const padStartParityOdd = ((headLength + payloadLength) & 1) === 1;
      const padHigh = padStartParityOdd ? padding >> 1 : (padding + 1) >> 1;
      sum += (padHigh * 256 + (padding - padHigh)) * 0xff;
      const value = ~foldSum(sum) & 0xffff;
      scratch[bodyStart] = value >>> 8;
      scratch[bodyStart + 1] = value & 0xff;
      outOffsets[i] = offset;
      asKey(keys[i]).encrypt(scratch, bodyStart, bodyStart + body, out, offset + RTMFP_SSID_SIZE);
      writeScrambledSsid(out, offset, ssids[i]);
      offset += RTMFP_SSID_SIZE + body;
    }
    outOffsets[count] = offset;
    return offset;
  }

  /**
   * Seals the content `a[aStart, aEnd)` followed by `b[bStart, bEnd)` (b may be null) with a key
   * that has RFC 7425 options: `[sequence number][checksum unless HMAC][content][0xFF padding]`,
   * encrypted, then the tag. The sequence number advances only once the packet is sealed.
   */
  private sealWithOptions(
    key: TsPacketKey,
    ssid: number,
    a: Buffer,
    aStart: number,
    aEnd: number,
    b: Buffer | null,
    bStart: number,
    bEnd: number,
    out: Buffer,
    outOffset: number,
  ): number {
    const options = key.options!;
    const front = options.front();
    const content = aEnd - aStart + bEnd - bStart;
    const body = optionBodyLength(front + content);
    if (this.optionScratch.length < body) {
      this.optionScratch = Buffer.alloc(Math.ceil(body / SCRATCH_STEP) * SCRATCH_STEP);
    }
    const plain = this.optionScratch;
    let at = options.sequenceNumbers ? writeVlu(plain, 0, options.txSequence) : 0;
    const contentAt = front;
    a.copy(plain, contentAt, aStart, aEnd);
    if (b !== null) {
      b.copy(plain, contentAt + aEnd - aStart, bStart, bEnd);
    }
    plain.fill(0xff, contentAt + content, body);
    if (options.hmacKey === null) {
      const sum = checksum(plain, at + 2, body);
      plain[at++] = sum >>> 8;
      plain[at] = sum & 0xff;
    }
    key.encrypt(plain, 0, body, out, outOffset + RTMFP_SSID_SIZE);
    if (options.hmacKey !== null) {
      options.sign(out, outOffset + RTMFP_SSID_SIZE, outOffset + RTMFP_SSID_SIZE + body);
    }
    writeScrambledSsid(out, outOffset, ssid);
    options.txSequence++;
    return RTMFP_SSID_SIZE + body + options.hmacLength;
  }

  /**
   * Opens a datagram sealed with RFC 7425 options: tag checked on the ciphertext first, then the
   * sequence number against the window, then the checksum if there is one; the content is moved
   * to `out[outOffset + 2...]` (the layout without options). Returns the content's end relative
   * to `outOffset`, or a DECRYPT_ code.
   */
  private openWithOptions(key: TsPacketKey, datagram: Buffer, start: number, end: number, out: Buffer, outOffset: number): number {
    const options = key.options!;
    const cipherEnd = end - options.hmacLength;
    const body = cipherEnd - start - RTMFP_SSID_SIZE;
    if (options.hmacKey !== null && !options.verify(datagram, start + RTMFP_SSID_SIZE, cipherEnd)) {
      return DECRYPT_BAD_CHECKSUM;
    }
    if (this.optionScratch.length < body) {
      this.optionScratch = Buffer.alloc(Math.ceil(body / SCRATCH_STEP) * SCRATCH_STEP);
    }
    const plain = this.optionScratch;
    key.decrypt(datagram, start + RTMFP_SSID_SIZE, cipherEnd, plain, 0);
    let at = 0;
    let sequence = -1;
    if (options.sequenceNumbers) {
      const vlu = readVlu(plain, 0, body);
      if (vlu === null) {
        return DECRYPT_BAD_LENGTH;
      }
      [sequence, at] = vlu;
      if (!options.fresh(sequence)) {
        return DECRYPT_REPLAYED;
      }
    }
    if (options.hmacKey === null) {
      if (body - at < 2) {
        return DECRYPT_BAD_LENGTH;
      }
      const expected = (plain[at] << 8) | plain[at + 1];
      at += 2;
      if (checksum(plain, at, body) !== expected) {
        return DECRYPT_BAD_CHECKSUM;
      }
    }
    if (sequence >= 0) {
      options.accept(sequence);
    }
    plain.copy(out, outOffset + 2, at, body);
    return 2 + body - at;
  }
}
