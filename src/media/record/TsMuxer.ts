import type { AudioConfig, VideoConfig } from '../../http/hls/codecs.js';
import type { FrameKind } from '../MediaFrame.js';
import type { MediaMuxer } from './MediaMuxer.js';
import { TrackGate, type TrackSink } from './TrackGate.js';

/**
 * MPEG-TS (ISO 13818-1): PAT and PMT (one program), then each frame as one PES packet cut into
 * 188-byte transport packets. Video is H.264 or HEVC in Annex B form (start codes, an access
 * unit delimiter, the parameter sets of the sequence header before each keyframe), audio AAC
 * with an ADTS header per frame, or MP3 as is; Opus has no TS mapping here and is left out. The
 * tables are repeated before each video keyframe; the PCR rides on the video PID (the audio PID
 * without video). Timestamps are the frames' milliseconds at 90 kHz (DTS, and PTS = DTS + the
 * composition offset).
 */

const PACKET_SIZE = 188;
const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const AUDIO_PID = 0x101;
const PROGRAM = 1;
/** A 33-bit clock. */
const TS_WRAP = 2 ** 33;
/** AAC sampling frequency indexes (ISO 14496-3 1.6.3.4). */
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) {
      c = (c & 0x80000000) !== 0 ? (c << 1) ^ 0x04c11db7 : c << 1;
    }
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2 of a PSI section. */
const crc32 = (data: Buffer): number => {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0;
  }
  return crc;
};

/** The parameter sets and NAL length size of an avcC or hvcC record; null if it is malformed. */
const parameterSets = (video: VideoConfig): { lengthSize: number; sets: Buffer[] } | null => {
  const r = video.record;
  const sets: Buffer[] = [];
  let offset: number;
  const take = (): boolean => {
    if (offset + 2 > r.length) {
      return false;
    }
    const size = r.readUInt16BE(offset);
    if (offset + 2 + size > r.length) {
      return false;
    }
    sets.push(r.subarray(offset + 2, offset + 2 + size));
    offset += 2 + size;
    return true;
  };
  if (video.codec === 'avc1') {
    if (r.length < 7) {
      return null;
    }
    const lengthSize = (r[4] & 0x03) + 1;
    offset = 6;
    for (let i = r[5] & 0x1f; i > 0; i--) {
      if (!take()) {
        return null;
      }
    }
    if (offset >= r.length) {
      return { lengthSize, sets };
    }
    for (let i = r[offset++]; i > 0; i--) {
      if (!take()) {
        return null;
      }
    }
    return { lengthSize, sets };
  }
  if (r.length < 23) {
    return null;
  }
  const lengthSize = (r[21] & 0x03) + 1;
  offset = 23;
  for (let arrays = r[22]; arrays > 0; arrays--) {
    if (offset + 3 > r.length) {
      return null;
    }
    const count = r.readUInt16BE(offset + 1);
    offset += 3;
    for (let i = 0; i < count; i++) {
      if (!take()) {
        return null;
      }
    }
  }
  return { lengthSize, sets };
};

/** The ADTS header fields of an AAC configuration, or null when ADTS cannot say it. */
const adtsFields = (audio: AudioConfig): { profile: number; rateIndex: number; channels: number } | null => {
  const asc = audio.specificConfig;
  if (asc.length < 2) {
    return null;
  }
  const aot = asc[0] >> 3;
  const rateIndex = AAC_RATES.indexOf(audio.sampleRate);
  const channels = (asc[1] >> 3) & 0x0f;
  if (rateIndex < 0 || channels === 0) {
    return null;
  }
  // ADTS carries object types 1..4; HE-AAC (SBR, PS) plays as its AAC LC core.
  return { profile: aot >= 1 && aot <= 4 ? aot - 1 : 1, rateIndex, channels };
};

const START_CODE = Buffer.from([0, 0, 0, 1]);
const AVC_AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
const HEVC_AUD = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);

/** Writes a 33-bit timestamp as PES does: 4-bit prefix, 3 + 15 + 15 bits with marker bits. */
const writeTimestamp = (b: Buffer, at: number, prefix: number, ts: number): void => {
  const high = Math.floor(ts / 2 ** 30) & 0x07;
  const mid = Math.floor(ts / 2 ** 15) & 0x7fff;
  const low = ts & 0x7fff;
  b[at] = (prefix << 4) | (high << 1) | 1;
  b.writeUInt16BE((mid << 1) | 1, at + 1);
  b.writeUInt16BE((low << 1) | 1, at + 3);
};

interface Stream {
  pid: number;
  type: number;
  streamId: number;
}

export class TsMuxer implements MediaMuxer, TrackSink {
  readonly format = 'ts';
  private readonly gate = new TrackGate(this);
  private readonly counters = new Map<number, number>();
  private streams: Stream[] = [];
  private pcrPid = VIDEO_PID;
  private videoTrack: { codec: VideoConfig['codec']; lengthSize: number; sets: Buffer[] } | null = null;
  private adts: { profile: number; rateIndex: number; channels: number } | null = null;
  private audioCodec: AudioConfig['codec'] | null = null;
  private out: Buffer[] = [];

  write(kind: FrameKind, timestamp: number, payload: Buffer, out: Buffer[]): void {
    this.out = out;
    this.gate.push(kind, timestamp, payload);
  }

  end(): void {}

  // TrackSink
  start(video: VideoConfig | null, audio: AudioConfig | null): void {
    const streams: Stream[] = [];
    const sets = video === null ? null : parameterSets(video);
    if (video !== null && sets !== null) {
      this.videoTrack = { codec: video.codec, ...sets };
      streams.push({ pid: VIDEO_PID, type: video.codec === 'avc1' ? 0x1b : 0x24, streamId: 0xe0 });
    }
    if (audio !== null) {
      if (audio.codec === 'mp4a') {
        this.adts = adtsFields(audio);
        if (this.adts !== null) {
          streams.push({ pid: AUDIO_PID, type: 0x0f, streamId: 0xc0 });
          this.audioCodec = 'mp4a';
        }
      } else if (audio.codec === 'mp3') {
        // MPEG-1 audio (0x03) or MPEG-2 low sampling rates (0x04).
        streams.push({ pid: AUDIO_PID, type: audio.objectType === 0x6b ? 0x03 : 0x04, streamId: 0xc0 });
        this.audioCodec = 'mp3';
      }
    }
    this.streams = streams;
    this.pcrPid = this.videoTrack !== null ? VIDEO_PID : AUDIO_PID;
    this.writeTables();
  }

  video(ms: number, cts: number, data: Buffer, keyframe: boolean): void {
    const track = this.videoTrack;
    if (track === null) {
      return;
    }
    const units = this.annexB(track, data, keyframe);
    if (units === null) {
      return;
    }
    if (keyframe) {
      this.writeTables();
    }
    const dts = (ms * 90) % TS_WRAP;
    const pts = ((ms + cts) * 90 + TS_WRAP) % TS_WRAP;
    this.writePes(VIDEO_PID, 0xe0, units, pts, cts !== 0 ? dts : null, keyframe, true);
  }

  audio(ms: number, data: Buffer): void {
    let payload: Buffer;
    if (this.audioCodec === 'mp4a' && this.adts !== null) {
      const size = data.length + 7;
      if (size > 0x1fff) {
        return;
      }
      const { profile, rateIndex, channels } = this.adts;
      const header = Buffer.from([
        0xff, 0xf1, // sync, MPEG-4, layer 0, no CRC
        (profile << 6) | (rateIndex << 2) | (channels >> 2),
        ((channels & 0x03) << 6) | (size >> 11),
        (size >> 3) & 0xff,
        ((size & 0x07) << 5) | 0x1f, // buffer fullness 0x7ff (VBR)
        0xfc, // one raw data block
      ]);
      payload = Buffer.concat([header, data]);
    } else if (this.audioCodec === 'mp3') {
      payload = data;
    } else {
      return;
    }
    const pts = (ms * 90) % TS_WRAP;
    this.writePes(AUDIO_PID, 0xc0, payload, pts, null, false, false);
  }

  /** The NAL units of an AVCC frame as Annex B, with an AUD, and the parameter sets before a keyframe. */
  private annexB(track: NonNullable<TsMuxer['videoTrack']>, data: Buffer, keyframe: boolean): Buffer | null {
    const avc = track.codec === 'avc1';
    const parts: Buffer[] = [avc ? AVC_AUD : HEVC_AUD];
    const nals: Buffer[] = [];
    let hasParameters = false;
    const n = track.lengthSize;
    let offset = 0;
    while (offset + n <= data.length) {
      const size = data.readUIntBE(offset, n);
      offset += n;
      if (size === 0 || offset + size > data.length) {
        break;
      }
      const nal = data.subarray(offset, offset + size);
      offset += size;
      const type = avc ? nal[0] & 0x1f : (nal[0] >> 1) & 0x3f;
      if (type === (avc ? 9 : 35)) {
        continue; // our own AUD leads the access unit
      }
      if (type === (avc ? 7 : 33)) {
        hasParameters = true;
      }
      nals.push(nal);
    }
    if (nals.length === 0) {
      return null;
    }
    if (keyframe && !hasParameters) {
      for (const set of track.sets) {
        parts.push(START_CODE, set);
      }
    }
    for (const nal of nals) {
      parts.push(START_CODE, nal);
    }
    return Buffer.concat(parts);
  }

  private next(pid: number): number {
    const cc = this.counters.get(pid) ?? 0;
    this.counters.set(pid, (cc + 1) & 0x0f);
    return cc;
  }

  private writeTables(): void {
    const pat = Buffer.alloc(12);
    pat[0] = 0x00;
    pat.writeUInt16BE(0xb000 | 13, 1); // section_syntax_indicator, section_length
    pat.writeUInt16BE(1, 3); // transport_stream_id
    pat[5] = 0xc1; // version 0, current
    pat.writeUInt16BE(PROGRAM, 8);
    pat.writeUInt16BE(0xe000 | PMT_PID, 10);
    this.writeSection(0, pat);

    const pmt = Buffer.alloc(12 + this.streams.length * 5);
    pmt[0] = 0x02;
    pmt.writeUInt16BE(0xb000 | (13 + this.streams.length * 5), 1);
    pmt.writeUInt16BE(PROGRAM, 3);
    pmt[5] = 0xc1;
    pmt.writeUInt16BE(0xe000 | this.pcrPid, 8);
    pmt.writeUInt16BE(0xf000, 10); // no program descriptors
    this.streams.forEach((s, i) => {
      const at = 12 + i * 5;
      pmt[at] = s.type;
      pmt.writeUInt16BE(0xe000 | s.pid, at + 1);
      pmt.writeUInt16BE(0xf000, at + 3);
    });
    this.writeSection(PMT_PID, pmt);
  }

  /** One PSI section (without its CRC, added here) in one packet. */
  private writeSection(pid: number, section: Buffer): void {
    const packet = Buffer.alloc(PACKET_SIZE, 0xff);
    packet[0] = 0x47;
    packet.writeUInt16BE(0x4000 | pid, 1); // payload_unit_start_indicator
    packet[3] = 0x10 | this.next(pid);
    packet[4] = 0; // pointer_field
    section.copy(packet, 5);
    packet.writeUInt32BE(crc32(section), 5 + section.length);
    this.out.push(packet);
  }

  private writePes(pid: number, streamId: number, payload: Buffer, pts: number, dts: number | null, randomAccess: boolean, video: boolean): void {
    const headerData = dts === null ? 5 : 10;
    const pes = Buffer.allocUnsafe(9 + headerData);
    pes.writeUIntBE(0x000001, 0, 3);
    pes[3] = streamId;
    const length = 3 + headerData + payload.length;
    // Video may leave the length open (0); audio frames are far below 64 KiB.
    pes.writeUInt16BE(video || length > 0xffff ? 0 : length, 4);
    pes[6] = 0x80; // marker bits
    pes[7] = dts === null ? 0x80 : 0xc0;
    pes[8] = headerData;
    writeTimestamp(pes, 9, dts === null ? 2 : 3, pts);
    if (dts !== null) {
      writeTimestamp(pes, 14, 1, dts);
    }
    const data = Buffer.concat([pes, payload]);
    const pcr = pid === this.pcrPid ? (dts ?? pts) : null;
    const packets = Buffer.alloc(PACKET_SIZE * (Math.ceil(data.length / 176) + 1), 0xff);
    let at = 0;
    let pos = 0;
    let first = true;
    while (pos < data.length) {
      const p = packets.subarray(at, at + PACKET_SIZE);
      at += PACKET_SIZE;
      p[0] = 0x47;
      p.writeUInt16BE((first ? 0x4000 : 0) | pid, 1);
      // -1: no adaptation field; 0: one of a length byte only; n: length byte + n bytes.
      let adaptation = first && (pcr !== null || randomAccess) ? 1 + (pcr !== null ? 6 : 0) : -1;
      let room = PACKET_SIZE - 4 - (adaptation >= 0 ? 1 + adaptation : 0);
      const remaining = data.length - pos;
      if (remaining < room) {
        const stuffing = room - remaining;
        adaptation = adaptation < 0 ? stuffing - 1 : adaptation + stuffing;
        room = remaining;
      }
      p[3] = (adaptation >= 0 ? 0x30 : 0x10) | this.next(pid);
      let q = 4;
      if (adaptation >= 0) {
        p[q++] = adaptation;
        if (adaptation > 0) {
          const withPcr = first && pcr !== null;
          p[q] = (first && randomAccess ? 0x40 : 0) | (withPcr ? 0x10 : 0);
          if (withPcr) {
            const base = pcr;
            p.writeUInt32BE(Math.floor(base / 2) >>> 0, q + 1);
            p[q + 5] = ((base & 1) << 7) | 0x7e; // reserved bits, extension 0
            p[q + 6] = 0;
          }
          q += adaptation; // the rest of the field stays 0xff stuffing
        }
      }
      data.copy(p, q, pos, pos + room);
      pos += room;
      first = false;
    }
    this.out.push(packets.subarray(0, at));
  }
}
