/**
 * HEVC: the HEVCDecoderConfigurationRecord of an FLV sequence header (ISO 14496-15 8.3.3) and
 * the SPS in it (ITU-T H.265 7.3.2.2), read for the picture size (conformance window applied)
 * and profile_tier_level for the CODECS string. The record goes into `hvcC` unchanged.
 */
import { BitReader, nalToRbsp } from './BitReader.js';
import type { VideoConfig } from './codecs.js';

export interface HevcSps {
  profileSpace: number;
  tierFlag: boolean;
  profileIdc: number;
  /** general_profile_compatibility_flags, flag 0 as the most significant bit (as coded). */
  compatibilityFlags: number;
  /** The 48 bits of general constraint flags, as 6 bytes. */
  constraintBytes: number[];
  levelIdc: number;
  chromaFormatIdc: number;
  width: number;
  height: number;
}

const SPS_NAL_TYPE = 33;

/** Parses an SPS NAL unit (with its two-byte NAL header). Throws on a truncated or invalid one. */
export const parseHevcSps = (nal: Uint8Array): HevcSps => {
  if (nal.length < 15 || ((nal[0] >> 1) & 0x3f) !== SPS_NAL_TYPE) {
    throw new RangeError('not an HEVC SPS');
  }
  const r = new BitReader(nalToRbsp(nal.subarray(2)));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, maxSubLayersMinus1), 7.3.3
  const profileSpace = r.u(2);
  const tierFlag = r.flag();
  const profileIdc = r.u(5);
  const compatibilityFlags = r.u(32);
  const constraintBytes: number[] = [];
  for (let i = 0; i < 6; i++) {
    constraintBytes.push(r.u(8));
  }
  const levelIdc = r.u(8);
  const subProfile: boolean[] = [];
  const subLevel: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.flag());
    subLevel.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) {
    r.skip(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
  }
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    r.skip((subProfile[i] ? 88 : 0) + (subLevel[i] ? 8 : 0));
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3) {
    throw new RangeError('invalid chroma_format_idc');
  }
  let separateColourPlane = false;
  if (chromaFormatIdc === 3) {
    separateColourPlane = r.flag();
  }
  let width = r.ue();
  let height = r.ue();
  if (r.flag()) {
    // conformance_window_flag: offsets in chroma units (SubWidthC/SubHeightC, Table 6-1).
    const chroma = separateColourPlane ? 0 : chromaFormatIdc;
    const unitX = chroma === 1 || chroma === 2 ? 2 : 1;
    const unitY = chroma === 1 ? 2 : 1;
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= unitX * (left + right);
    height -= unitY * (top + bottom);
  }
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) {
    throw new RangeError('invalid picture size');
  }
  return { profileSpace, tierFlag, profileIdc, compatibilityFlags, constraintBytes, levelIdc, chromaFormatIdc, width, height };
};

const reverse32 = (v: number): number => {
  let out = 0;
  for (let i = 0; i < 32; i++) {
    out = out * 2 + ((v >>> i) & 1);
  }
  return out;
};

/**
 * `hvc1.<space><profile>.<compat reversed, hex>.<L|H><level>[.<constraint bytes>]` with trailing
 * zero constraint bytes left out (ISO 14496-15 Annex E), e.g. `hvc1.1.6.L93.B0`.
 */
export const hevcCodecString = (sps: HevcSps): string => {
  const space = ['', 'A', 'B', 'C'][sps.profileSpace];
  const compat = reverse32(sps.compatibilityFlags).toString(16).toUpperCase();
  const constraints = [...sps.constraintBytes];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) {
    constraints.pop();
  }
  const tail = constraints.map((b) => `.${b.toString(16).toUpperCase()}`).join('');
  return `hvc1.${space}${sps.profileIdc}.${compat}.${sps.tierFlag ? 'H' : 'L'}${sps.levelIdc}${tail}`;
};

/** Fixed part of the record before its NAL unit arrays. */
const RECORD_HEADER = 23;

/**
 * Validates an HEVCDecoderConfigurationRecord and reads its first SPS. Throws on a record a
 * decoder could not use (bad version, truncated arrays, no SPS).
 */
export const parseHevcRecord = (record: Buffer): VideoConfig => {
  if (record.length < RECORD_HEADER || record[0] !== 1) {
    throw new RangeError('not an HEVCDecoderConfigurationRecord');
  }
  if ((record[21] & 0x03) === 2) {
    throw new RangeError('invalid NAL length size');
  }
  const arrays = record[22];
  let offset = RECORD_HEADER;
  let sps: HevcSps | null = null;
  for (let a = 0; a < arrays; a++) {
    if (offset + 3 > record.length) {
      throw new RangeError('truncated NAL unit array');
    }
    const type = record[offset] & 0x3f;
    const count = record.readUInt16BE(offset + 1);
    offset += 3;
    for (let i = 0; i < count; i++) {
      if (offset + 2 > record.length) {
        throw new RangeError('truncated NAL unit array');
      }
      const size = record.readUInt16BE(offset);
      offset += 2;
      if (offset + size > record.length) {
        throw new RangeError('truncated NAL unit');
      }
      if (type === SPS_NAL_TYPE && sps === null) {
        sps = parseHevcSps(record.subarray(offset, offset + size));
      }
      offset += size;
    }
  }
  if (sps === null) {
    throw new RangeError('no SPS in the record');
  }
  return { codec: 'hvc1', record, width: sps.width, height: sps.height, codecs: hevcCodecString(sps) };
};
