/**
 * Leveled logger with MonaServer's levels (`--log=0..8`: nothing, fatal, critic, error, warn, note,
 * info, debug, trace). One process-wide sink; loggers are cheap named views on it. A disabled
 * level costs one comparison.
 */
export const LogLevel = {
  NONE: 0,
  FATAL: 1,
  CRITIC: 2,
  ERROR: 3,
  WARN: 4,
  NOTE: 5,
  INFO: 6,
  DEBUG: 7,
  TRACE: 8,
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const names = ['', 'FATAL', 'CRITIC', 'ERROR', 'WARN', 'NOTE', 'INFO', 'DEBUG', 'TRACE'];

export type LogSink = (level: LogLevel, scope: string, message: string) => void;

const stderrSink: LogSink = (level, scope, message) => {
  process.stderr.write(`${new Date().toISOString()} ${names[level]} [${scope}] ${message}\n`);
};

let currentLevel: LogLevel = LogLevel.INFO;
let sink: LogSink = stderrSink;

export const setLogLevel = (level: LogLevel): void => {
  currentLevel = level;
};
export const getLogLevel = (): LogLevel => currentLevel;
/** Replace the output (tests capture lines with it); returns the previous sink. */
export const setLogSink = (next: LogSink): LogSink => {
  const previous = sink;
  sink = next;
  return previous;
};

export class Logger {
  constructor(readonly scope: string) {}

  enabled(level: LogLevel): boolean {
    return level <= currentLevel;
  }

  log(level: LogLevel, message: string): void {
    if (level <= currentLevel) {
      sink(level, this.scope, message);
    }
  }

  error(message: string): void {
    this.log(LogLevel.ERROR, message);
  }

  warn(message: string): void {
    this.log(LogLevel.WARN, message);
  }

  note(message: string): void {
    this.log(LogLevel.NOTE, message);
  }

  info(message: string): void {
    this.log(LogLevel.INFO, message);
  }

  debug(message: string): void {
    this.log(LogLevel.DEBUG, message);
  }

  trace(message: string): void {
    this.log(LogLevel.TRACE, message);
  }

  child(scope: string): Logger {
    return new Logger(`${this.scope}:${scope}`);
  }
}

export const parseLogLevel = (value: string): LogLevel | undefined => {
  const n = Number(value);
  if (Number.isInteger(n) && n >= 0 && n <= 8) {
    return n as LogLevel;
  }
  const i = names.indexOf(value.toUpperCase());
  return i > 0 ? (i as LogLevel) : undefined;
};
