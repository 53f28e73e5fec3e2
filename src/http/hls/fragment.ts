/**
 * One movie fragment: `moof` (mfhd, then a `traf` per track with samples) followed by its `mdat`
 * (ISO 14496-12 8.8.4). Every traf says default-base-is-moof, so the trun data offsets count
 * from the moof's first byte and a fragment is self-contained: LL-HLS parts are fragments and a
 * segment is its parts back to back, byte for byte. tfdt is 64-bit (version 1) because a 90 kHz
 * clock passes 2^32 after 13 hours.
 */
import { BoxWriter } from './BoxWriter.js';

export interface Sample {
  data: Buffer;
  /** In the track's timescale. */
  duration: number;
  /** Composition (presentation − decode) offset in the track's timescale; 0 for audio. */
  cts: number;
  /** A sync sample (video keyframe; every audio sample). */
  sync: boolean;
}

export interface TrackFragment {
  trackId: number;
  /** Decode time of the first sample, in the track's timescale. */
  baseDecodeTime: number;
  samples: Sample[];
  /** Writes composition offsets (video only). */
  hasCts: boolean;
}

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTS = 0x000800;
/** sample_depends_on = 2 (depends on no other sample). */
export const SYNC_SAMPLE_FLAGS = 0x02000000;
/** sample_depends_on = 1, sample_is_non_sync_sample = 1. */
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

/** Builds moof + mdat for `tracks` (those without samples are left out). */
export const mediaFragment = (sequence: number, tracks: TrackFragment[]): Buffer => {
  const present = tracks.filter((t) => t.samples.length > 0);
  let dataBytes = 0;
  let sampleCount = 0;
  for (const t of present) {
    sampleCount += t.samples.length;
    for (const s of t.samples) {
      dataBytes += s.data.length;
    }
  }
  const w = new BoxWriter(256 + sampleCount * 16 + dataBytes);
  const offsetFields: number[] = [];
  w.open('moof');
  w.openFull('mfhd', 0, 0).u32(sequence).close();
  for (const t of present) {
    w.open('traf');
    w.openFull('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF).u32(t.trackId).close();
    w.openFull('tfdt', 1, 0).u64(t.baseDecodeTime).close();
    // Version 1 makes composition offsets signed; only needed when one is negative.
    const signed = t.hasCts && t.samples.some((s) => s.cts < 0);
    const flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (t.hasCts ? TRUN_CTS : 0);
    w.openFull('trun', signed ? 1 : 0, flags).u32(t.samples.length);
    offsetFields.push(w.length);
    w.u32(0);
    for (const s of t.samples) {
      w.u32(s.duration).u32(s.data.length).u32(s.sync ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS);
      if (t.hasCts) {
        if (signed) {
          w.i32(s.cts);
        } else {
          w.u32(s.cts);
        }
      }
    }
    w.close().close(); // trun, traf
  }
  w.close();
  const moofSize = w.length;
  // Each track's samples are contiguous in the mdat, in traf order.
  let offset = moofSize + 8;
  present.forEach((t, i) => {
    w.patchU32(offsetFields[i], offset);
    for (const s of t.samples) {
      offset += s.data.length;
    }
  });
  w.open('mdat');
  for (const t of present) {
    for (const s of t.samples) {
      w.bytes(s.data);
    }
  }
  w.close();
  return w.finish();
};
