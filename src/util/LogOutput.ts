import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import build from 'pino-roll';
import type { LogSink } from './Logger.js';

const names = ['', 'FATAL', 'CRITIC', 'ERROR', 'WARN', 'NOTE', 'INFO', 'DEBUG', 'TRACE'];
/** MonaServer's levels as pino methods (critic and note are custom levels between pino's). */
const methods = ['fatal', 'fatal', 'critic', 'error', 'warn', 'note', 'info', 'debug', 'trace'] as const;

export interface LogOutputOptions {
  /** '' : standard error. */
  directory: string;
  name: string;
  /** Files kept: the one written and `rotation - 1` rotated ones. */
  rotation: number;
  /** Bytes of a file before it rotates. */
  maxSize: number;
  /** 'text': MonaServer's lines; 'json': one JSON object a line (pino), for log collectors. */
  format: 'text' | 'json';
}

export interface LogOutput {
  sink: LogSink;
  /** Writes what is buffered now (before the process exits). */
  flush(): void;
}

type Stream = { write(chunk: string): boolean; flushSync(): void };

/**
 * The log output (logs.directory, logs.name, logs.rotation, logs.maxSize, logs.format): written
 * asynchronously by pino's writer (sonic-boom), rotated by size by pino-roll (`name.1.log`,
 * `name.2.log`... the oldest removed past `rotation` files), never one synchronous append per
 * line on the main thread. Text lines look as on standard error; JSON lines carry `level`
 * (pino's number, with Mona's critic 55 and note 35), `time`, `scope` and `msg`.
 */
export const openLogOutput = async (options: LogOutputOptions): Promise<LogOutput> => {
  let stream: Stream;
  if (options.directory === '') {
    stream = pino.destination({ dest: 2, sync: false });
  } else {
    mkdirSync(options.directory, { recursive: true });
    stream = await build({
      file: join(options.directory, options.name),
      size: `${Math.max(1, Math.ceil(options.maxSize / 1024))}k`,
      mkdir: true,
      limit: { count: Math.max(1, options.rotation - 1) },
    });
  }
  if (options.format === 'json') {
    const logger = pino(
      {
        level: 'trace',
        customLevels: { critic: 55, note: 35 },
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      stream as unknown as pino.DestinationStream,
    );
    return {
      sink: (level, scope, message) => logger[methods[level]]({ scope }, message),
      flush: () => logger.flush(),
    };
  }
  return {
    sink: (level, scope, message) => {
      stream.write(`${new Date().toISOString()} ${names[level]} [${scope}] ${message}\n`);
    },
    flush: () => stream.flushSync(),
  };
};
