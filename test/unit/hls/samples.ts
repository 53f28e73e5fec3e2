/**
 * Known bytes for the HLS tests: parameter sets that x264/x265 wrote for the sizes and formats
 * named (ffprobe read the same streams: the expected values come from it), and decoder
 * configuration records built around them the way ISO 14496-15 lays them out.
 */
export const SPS = {
  avc: {
    high320x240: '6764000dacd94141fb011000000300100000030320f1429960',
    high1080: '67640028acd940780227e5c044000003000400000300c83c60c658',
    interlaced1080: '67640028acd94078044fde0220000003002000000643e2c5b2c0',
    high444_100x50: '67f4000a919b28e4f1b1f808800000030080000019078912cb',
    high422_10bit: '677a001eb6cd940a42fe227c0440000003004000000c83c58b6580',
    baseline176x144: '6742c00bd902c4ec0440000003004000000c83c50a92',
  },
  hevc: {
    main320x240: '42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003210',
    main1080: '420101016000000300900000030000030078a003c08010e596566924caf0168080000003008000000c84',
    main10_642x362: '42010102200000030090000003000003003fa005120171c92365959a4932bc05a02000000300200000030321',
    rext422_200x100: '4201010408000003009d0800000300001eb0192069f2e5959a4932bc05a02000000300200000030321',
  },
} as const;

const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};

/** AVCDecoderConfigurationRecord: version 1, profile/compat/level from the SPS, 4-byte NAL lengths. */
export const avcRecord = (sps: Buffer, pps: Buffer): Buffer =>
  Buffer.concat([Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1]), u16(sps.length), sps, Buffer.from([1]), u16(pps.length), pps]);

/** HEVCDecoderConfigurationRecord with VPS, SPS and PPS arrays (profile fields left at 0: the SPS says). */
export const hevcRecord = (sps: Buffer): Buffer => {
  const vps = Buffer.from('40010c01ffff016000000300900000030000030078959409', 'hex');
  const pps = Buffer.from('4401c172b46240', 'hex');
  const header = Buffer.alloc(23);
  header[0] = 1;
  header[21] = 0x0f; // 1 temporal layer, nested, NAL length size 4
  header[22] = 3;
  const array = (type: number, nal: Buffer): Buffer => Buffer.concat([Buffer.from([0x80 | type]), u16(1), u16(nal.length), nal]);
  return Buffer.concat([header, array(32, vps), array(33, sps), array(34, pps)]);
};

/** A deterministic PRNG (mulberry32), so fuzz-like tests fail the same way every run. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
