#!/usr/bin/env node
import { errorMessage } from './errors.js';
import { loadConfig } from './config/loadConfig.js';
import { knownKeys, schema } from './config/schema.js';
import { Server } from './Server.js';
import { Logger, type LogLevel, parseLogLevel, setLogLevel, setLogSink } from './util/Logger.js';
import { openLogOutput } from './util/LogOutput.js';

const usage = `Usage: nimbus [--config FILE] [--section.key=value ...] [--log=0..8]

Reads nimbus.ini in the working directory (or FILE), MonaServer's ini format; every key can be
overridden on the command line. Keys:
${knownKeys.map((k) => `  ${k.padEnd(28)} ${schema[k].doc} (default: ${schema[k].default || '""'})`).join('\n')}
`;

/** `--a.b=c`, `--a.b c`, `--flag` → { 'a.b': 'c', flag: 'true' } */
export const parseArgs = (argv: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      throw new Error(`unexpected argument "${arg}" (options look like --key=value)`);
    }
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    if (eq >= 0) {
      out[body.slice(0, eq)] = body.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      out[body] = argv[++i]!;
    } else {
      out[body] = 'true';
    }
  }
  return out;
};

const main = async (): Promise<void> => {
  let args: Record<string, string>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`nimbus: ${errorMessage(err)}\n\n${usage}`);
    process.exit(2);
  }
  if (args.help !== undefined) {
    console.log(usage);
    return;
  }
  let loaded;
  try {
    loaded = loadConfig({ file: args.config ?? null, overrides: args });
  } catch (err) {
    console.error(`nimbus: ${errorMessage(err)}`);
    process.exit(2);
  }
  const { config, warnings } = loaded;
  let level: LogLevel | undefined = config.logs.level as LogLevel;
  if (args.log !== undefined) {
    level = parseLogLevel(args.log);
    if (level === undefined) {
      console.error(`nimbus: --log=${args.log} is not valid, expected 0..8`);
      process.exit(2);
    }
  }
  setLogLevel(level);
  let output: { flush(): void } | null = null;
  if (config.logs.directory !== '' || config.logs.format === 'json') {
    try {
      const opened = await openLogOutput(config.logs);
      setLogSink(opened.sink);
      output = opened;
    } catch (err) {
      console.error(`nimbus: cannot write logs to ${config.logs.directory}: ${errorMessage(err)}`);
      process.exit(2);
    }
  }
  // What the log writer still buffers goes out before the process ends.
  process.on('exit', () => output?.flush());
  const log = new Logger('nimbus');
  for (const warning of warnings) {
    log.warn(warning);
  }
  if (config.file !== null) {
    log.info(`configuration read from ${config.file}`);
  }
  const server = new Server(config);
  let addresses: string[];
  try {
    addresses = await server.start();
  } catch (err) {
    log.error(`cannot start: ${errorMessage(err)}`);
    process.exit(1);
  }
  // Signal handlers first: whoever reads the listening line may signal at once.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info(`${signal} received, stopping`);
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error(`stop failed: ${errorMessage(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Ports go to stdout so scripts and tests can read them whatever the log level.
  for (const address of addresses) {
    console.log(`nimbus listening: ${address}`);
  }
};

await main();
