import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasFfmpeg = (): boolean => spawnSync('ffmpeg', ['-version']).status === 0;

export const tempDir = (prefix = 'nimbus-test-'): string => mkdtempSync(join(tmpdir(), prefix));

/**
 * Makes an H.264 + AAC FLV from lavfi sources: `seconds` long, a keyframe every `gop` frames at 25 fps.
 */
export const makeTestFlv = (file: string, seconds = 4, gop = 25, extra: string[] = []): string => {
  if (existsSync(file)) {
    return file;
  }
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(gop), '-pix_fmt', 'yuv420p', '-b:v', '300k',
    '-c:a', 'aac', '-b:a', '64k', ...extra, '-f', 'flv', file,
  ]);
  if (result.status !== 0) {
    throw new Error(`ffmpeg could not make ${file}: ${result.stderr.toString()}`);
  }
  return file;
};

export interface RunningProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

export const run = (command: string, args: string[]): RunningProcess => {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) {
      err = err.slice(-100_000);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => err };
};

/** ffmpeg publishing `file` to `url` (`-re` paces it at real time). */
export const ffmpegPublish = (file: string, url: string, realtime = true): RunningProcess =>
  run('ffmpeg', ['-hide_banner', '-loglevel', 'warning', ...(realtime ? ['-re'] : []), '-i', file, '-c', 'copy', '-f', 'flv', url]);

/** ffmpeg playing `url` into an FLV file with `-c copy`. */
export const ffmpegPlay = (url: string, out: string, extra: string[] = []): RunningProcess =>
  run('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-y', ...extra, '-i', url, '-c', 'copy', '-f', 'flv', out]);

export const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};
