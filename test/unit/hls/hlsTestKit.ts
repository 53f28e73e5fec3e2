/**
 * Helpers of the HLS tests: an ISO BMFF box reader (to check what the writer made), sources
 * turned into MediaFrames (an FLV from ffmpeg through the shared FLV reader; an MP4 through
 * ffprobe's packet dump, rebuilt as Enhanced RTMP payloads since this ffmpeg's FLV muxer has no
 * HEVC or Opus), an HLS stream written to a folder, and ffmpeg/ffprobe views of the result.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import type { HlsStream } from '../../../src/http/hls/HlsStream.js';
import { readFlv } from '../../helpers/flv.js';

export interface Box {
  type: string;
  start: number;
  size: number;
  /** The bytes after the 8-byte header. */
  body: Buffer;
  children: Box[];
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'moof', 'traf', 'dinf']);
/** Boxes whose children start after a fixed prefix of their body. */
const PREFIXED: Record<string, number> = { stsd: 8, dref: 8, avc1: 78, hvc1: 78, mp4a: 28, Opus: 28 };

export const parseBoxes = (buf: Buffer, start = 0, end = buf.length): Box[] => {
  const boxes: Box[] = [];
  let offset = start;
  while (offset + 8 <= end) {
    const size = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    if (size < 8 || offset + size > end) {
      throw new Error(`bad box ${type} at ${offset} (size ${size})`);
    }
    const body = buf.subarray(offset + 8, offset + size);
    const prefix = CONTAINERS.has(type) ? 0 : PREFIXED[type];
    const children = prefix === undefined ? [] : parseBoxes(buf, offset + 8 + prefix, offset + size);
    boxes.push({ type, start: offset, size, body, children });
    offset += size;
  }
  if (offset !== end) {
    throw new Error(`trailing bytes at ${offset}`);
  }
  return boxes;
};

/** The boxes at a path like `moov/trak/mdia/mdhd`. */
export const findAll = (boxes: Box[], path: string): Box[] => {
  const [head, ...rest] = path.split('/');
  const here = boxes.filter((b) => b.type === head);
  return rest.length === 0 ? here : here.flatMap((b) => findAll(b.children, rest.join('/')));
};

export const find = (boxes: Box[], path: string): Box => {
  const found = findAll(boxes, path);
  if (found.length === 0) {
    throw new Error(`no ${path}`);
  }
  return found[0];
};

export const hasFfprobe = (): boolean => spawnSync('ffprobe', ['-version']).status === 0;

/** Runs a tool; its standard output (throws with its standard error on failure). */
export const tool = (command: string, args: string[]): string => {
  const result = spawnSync(command, ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')}: ${result.stderr.toString()}`);
  }
  return result.stdout.toString();
};

export const framesFromFlv = (file: string): MediaFrame[] =>
  readFlv(file)
    .filter((t) => t.type === FrameKind.AUDIO || t.type === FrameKind.VIDEO || t.type === FrameKind.DATA)
    .map((t) => new MediaFrame(t.type as FrameKind, t.timestamp, t.payload));

/** ffprobe's hex dump (`00000000: 0000 1129 ...  ascii`) back to bytes. */
const fromHexDump = (dump: string): Buffer =>
  Buffer.from(
    dump
      .split('\n')
      .filter((l) => l.includes(': '))
      .map((l) => l.slice(l.indexOf(': ') + 2).split('  ')[0].replace(/ /g, ''))
      .join(''),
    'hex',
  );

interface ProbePacket {
  codec_type: string;
  pts: number;
  dts: number;
  flags: string;
  data: string;
}
interface ProbeStream {
  codec_type: string;
  codec_name: string;
  time_base: string;
  extradata?: string;
}

const si24 = (v: number): Buffer => {
  const b = Buffer.alloc(3);
  b.writeIntBE(v, 0, 3);
  return b;
};

/**
 * An MP4 (HEVC or H.264 video, Opus or AAC audio) as Enhanced RTMP frames: sequence starts from
 * the extradata, coded frames (CodedFramesX when the composition offset is 0) from the packets,
 * in decode order with millisecond timestamps shifted to start at 0.
 */
export const enhancedFramesFromMp4 = (file: string): MediaFrame[] => {
  const probe = JSON.parse(tool('ffprobe', ['-of', 'json', '-show_streams', '-show_packets', '-show_data', file])) as { streams: ProbeStream[]; packets: ProbePacket[] };
  const streams = probe.streams;
  const scale = (type: string): number => {
    const [num, den] = streams.find((s) => s.codec_type === type)!.time_base.split('/').map(Number);
    return (1000 * num) / den;
  };
  const fourCc = (s: ProbeStream): string => ({ hevc: 'hvc1', h264: 'avc1', opus: 'Opus', aac: 'mp4a' })[s.codec_name]!;
  const packets = probe.packets.map((p) => ({ ...p, ms: p.dts * scale(p.codec_type), ctsMs: (p.pts - p.dts) * scale(p.codec_type) }));
  const origin = Math.min(...packets.map((p) => p.ms));
  const frames: MediaFrame[] = [];
  for (const s of streams) {
    const body = fromHexDump(s.extradata ?? '');
    const header = s.codec_type === 'video' ? Buffer.from([0x80 | 0x10 | 0]) : Buffer.from([0x90 | 0]);
    frames.push(new MediaFrame(s.codec_type === 'video' ? FrameKind.VIDEO : FrameKind.AUDIO, 0, Buffer.concat([header, Buffer.from(fourCc(s), 'latin1'), body])));
  }
  packets.sort((a, b) => a.ms - b.ms);
  for (const p of packets) {
    const s = streams.find((x) => x.codec_type === p.codec_type)!;
    const ts = Math.round(p.ms - origin);
    const data = fromHexDump(p.data);
    if (p.codec_type === 'video') {
      const frameType = p.flags.startsWith('K') ? 1 : 2;
      const cts = Math.round(p.ctsMs);
      const head = cts === 0 ? [Buffer.from([0x80 | (frameType << 4) | 3])] : [Buffer.from([0x80 | (frameType << 4) | 1])];
      const parts = [...head, Buffer.from(fourCc(s), 'latin1'), ...(cts === 0 ? [] : [si24(cts)]), data];
      frames.push(new MediaFrame(FrameKind.VIDEO, ts, Buffer.concat(parts)));
    } else {
      frames.push(new MediaFrame(FrameKind.AUDIO, ts, Buffer.concat([Buffer.from([0x90 | 1]), Buffer.from(fourCc(s), 'latin1'), data])));
    }
  }
  return frames;
};

/** Publishes `frames` through `stream` (a whole publishing session). */
export const publish = (stream: HlsStream, frames: MediaFrame[]): void => {
  stream.onPublishing(true);
  for (const f of frames) {
    stream.writeFrame(f);
  }
  stream.onPublishing(false);
};

/** The URIs a playlist refers to (segments, parts, init segments, hints). */
export const playlistUris = (playlist: string): string[] =>
  playlist.split('\n').flatMap((line) => {
    if (line.startsWith('#')) {
      return [...line.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]);
    }
    return line.length > 0 ? [line] : [];
  });

/** Writes the playlist (closed with ENDLIST so ffmpeg reads it as a whole) and what it lists. */
export const writeHls = (stream: HlsStream, dir: string, name = 'live.m3u8'): string => {
  const playlist = stream.playlist();
  if (playlist === null) {
    throw new Error('no playlist');
  }
  writeFileSync(join(dir, name), `${playlist}#EXT-X-ENDLIST\n`);
  for (const uri of playlistUris(playlist)) {
    const data = stream.resource(uri);
    if (data !== null) {
      writeFileSync(join(dir, uri), data);
    }
  }
  return join(dir, name);
};

/** Packet md5s of one stream (`v` or `a`), with `-c copy`: the coded bytes, not a decode. */
export const packetMd5s = (input: string, stream: 'v' | 'a'): string[] =>
  tool('ffmpeg', ['-i', input, '-map', `0:${stream}:0`, '-c', 'copy', '-f', 'framemd5', '-'])
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => l.split(',').map((f) => f.trim())[5]);

export interface ProbedPacket {
  pts: number;
  dts: number;
  duration: number;
}

export const probePackets = (input: string, stream: 'v' | 'a'): ProbedPacket[] =>
  (JSON.parse(tool('ffprobe', ['-of', 'json', '-select_streams', `${stream}:0`, '-show_entries', 'packet=pts,dts,duration', '-show_packets', input])) as { packets: ProbedPacket[] }).packets;

export const probeStreams = (input: string): { codec_name: string; codec_type: string; width?: number; height?: number; sample_rate?: string; channels?: number; profile?: string }[] =>
  (JSON.parse(tool('ffprobe', ['-of', 'json', '-show_streams', input])) as { streams: [] }).streams;
