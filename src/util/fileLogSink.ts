import { appendFileSync, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LogSink } from './Logger.js';

const names = ['', 'FATAL', 'CRITIC', 'ERROR', 'WARN', 'NOTE', 'INFO', 'DEBUG', 'TRACE'];

/**
 * MonaServer-style log files (`logs.directory`, `logs.name`, `logs.rotation`, `logs.maxSize`):
 * writes to `name.0`; when it passes maxSize, name.0 → name.1 → ... and the oldest is removed.
 * Synchronous appends: logs are rare next to media, and a crash must not lose the last lines.
 */
export const fileLogSink = (directory: string, name: string, rotation: number, maxSize: number): LogSink => {
  mkdirSync(directory, { recursive: true });
  const file = (i: number): string => join(directory, `${name}.${i}`);
  let size = existsSync(file(0)) ? statSync(file(0)).size : 0;
  const rotate = (): void => {
    if (existsSync(file(rotation - 1))) {
      unlinkSync(file(rotation - 1));
    }
    for (let i = rotation - 2; i >= 0; i--) {
      if (existsSync(file(i))) {
        renameSync(file(i), file(i + 1));
      }
    }
    size = 0;
  };
  return (level, scope, message) => {
    const line = `${new Date().toISOString()} ${names[level]} [${scope}] ${message}\n`;
    if (size + line.length > maxSize) {
      rotate();
    }
    appendFileSync(file(0), line);
    size += Buffer.byteLength(line);
  };
};
