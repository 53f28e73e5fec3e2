/**
 * H.264: the AVCDecoderConfigurationRecord an FLV sequence header carries (ISO 14496-15 5.3.3)
 * and the SPS inside it (ITU-T H.264 7.3.2.1.1), read for what HLS needs: the picture size for
 * the sample entry and RESOLUTION, and profile/constraints/level for the CODECS string. The
 * record itself goes into `avcC` unchanged, so the decoder gets exactly what the publisher sent.
 */
import { BitReader, hex2, nalToRbsp } from './BitReader.js';
import type { VideoConfig } from './codecs.js';

export interface AvcSps {
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepth: number;
  /** false for interlaced coding (field pairs or MBAFF): heights count map units of two rows. */
  frameMbsOnly: boolean;
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

const skipScalingList = (r: BitReader, size: number): void => {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      next = (last + r.se() + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
};

/** Parses an SPS NAL unit (with its one-byte NAL header). Throws on a truncated or invalid one. */
export const parseAvcSps = (nal: Uint8Array): AvcSps => {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) {
    throw new RangeError('not an H.264 SPS');
  }
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepth = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) {
      throw new RangeError('invalid chroma_format_idc');
    }
    if (chromaFormatIdc === 3) {
      separateColourPlane = r.flag();
    }
    bitDepth = r.ue() + 8;
    r.ue(); // bit_depth_chroma_minus8
    r.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      // seq_scaling_matrix_present_flag: 6 4x4 lists, then 2 (or 6 for 4:4:4) 8x8 lists.
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (r.flag()) {
          skipScalingList(r, i < 6 ? 16 : 64);
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.skip(1); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ue();
    if (cycle > 255) {
      throw new RangeError('invalid num_ref_frames_in_pic_order_cnt_cycle');
    }
    for (let i = 0; i < cycle; i++) {
      r.se();
    }
  } else if (pocType !== 2) {
    throw new RangeError('invalid pic_order_cnt_type');
  }
  r.ue(); // max_num_ref_frames
  r.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  if (!frameMbsOnly) {
    r.skip(1); // mb_adaptive_frame_field_flag
  }
  r.skip(1); // direct_8x8_inference_flag
  let width = widthMbs * 16;
  let height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16;
  if (r.flag()) {
    // frame_cropping_flag: offsets are in chroma sample units (Table 6-1), doubled for fields.
    const monochrome = chromaFormatIdc === 0 || separateColourPlane;
    const cropX = monochrome ? 1 : chromaFormatIdc === 3 ? 1 : 2;
    const cropY = (monochrome ? 1 : chromaFormatIdc === 1 ? 2 : 1) * (frameMbsOnly ? 1 : 2);
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= cropX * (left + right);
    height -= cropY * (top + bottom);
  }
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) {
    throw new RangeError('invalid picture size');
  }
  return { profileIdc, constraintFlags, levelIdc, chromaFormatIdc, bitDepth, frameMbsOnly, width, height };
};

/** `avc1.PPCCLL`: profile_idc, constraint flags byte and level_idc in hex (RFC 6381 3.3). */
export const avcCodecString = (sps: AvcSps): string =>
  `avc1.${hex2(sps.profileIdc)}${hex2(sps.constraintFlags)}${hex2(sps.levelIdc)}`;

/**
 * Validates an AVCDecoderConfigurationRecord and reads its first SPS. Throws on a record a
 * decoder could not use (bad version, NAL length size 3, no SPS, truncated arrays).
 */
export const parseAvcRecord = (record: Buffer): VideoConfig => {
  if (record.length < 7 || record[0] !== 1) {
    throw new RangeError('not an AVCDecoderConfigurationRecord');
  }
  const lengthSize = (record[4] & 0x03) + 1;
  if (lengthSize === 3) {
    throw new RangeError('invalid NAL length size');
  }
  const spsCount = record[5] & 0x1f;
  let offset = 6;
  let sps: AvcSps | null = null;
  for (let i = 0; i < spsCount; i++) {
    if (offset + 2 > record.length) {
      throw new RangeError('truncated SPS list');
    }
    const size = record.readUInt16BE(offset);
    offset += 2;
    if (offset + size > record.length) {
      throw new RangeError('truncated SPS');
    }
    sps ??= parseAvcSps(record.subarray(offset, offset + size));
    offset += size;
  }
  if (sps === null) {
    throw new RangeError('no SPS in the record');
  }
  if (offset >= record.length) {
    throw new RangeError('no PPS list');
  }
  const ppsCount = record[offset++];
  for (let i = 0; i < ppsCount; i++) {
    if (offset + 2 > record.length) {
      throw new RangeError('truncated PPS list');
    }
    offset += 2 + record.readUInt16BE(offset);
    if (offset > record.length) {
      throw new RangeError('truncated PPS');
    }
  }
  return {
    codec: 'avc1',
    record,
    width: sps.width,
    height: sps.height,
    codecs: avcCodecString(sps),
  };
};
