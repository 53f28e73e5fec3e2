import { spawnSync } from 'node:child_process';

export const hasFfprobe = (): boolean => spawnSync('ffprobe', ['-version']).status === 0;

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  /** Frames ffprobe decoded the headers of (`-count_frames`). */
  nb_read_frames?: string;
  width?: number;
  height?: number;
}

export interface Probe {
  /** Seconds. */
  duration: number;
  formatName: string;
  streams: ProbedStream[];
}

/** ffprobe's view of a media file: format, duration, streams with their frame counts. */
export const probe = (file: string): Probe => {
  const result = spawnSync('ffprobe', ['-hide_banner', '-loglevel', 'error', '-count_frames', '-of', 'json', '-show_format', '-show_streams', file], { maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`ffprobe ${file}: ${result.stderr.toString()}`);
  }
  const json = JSON.parse(result.stdout.toString()) as { format: { duration?: string; format_name: string }; streams: ProbedStream[] };
  return { duration: Number(json.format.duration ?? 'NaN'), formatName: json.format.format_name, streams: json.streams };
};

/** The frame count ffprobe reads for the stream of `type` ('video', 'audio'), -1 without one. */
export const frameCount = (p: Probe, type: string): number => {
  const s = p.streams.find((x) => x.codec_type === type);
  return s === undefined ? -1 : Number(s.nb_read_frames ?? -1);
};
