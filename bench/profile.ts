/**
 * `npm run profile`: profiles the Nimbus server under the fan-out benchmark's load (one ~1 Mbit/s
 * publisher, N light players in a player process) with Clinic.js Doctor and Flame, and with
 * `node --cpu-prof` (summarized as text: the functions with the most self and total time).
 *
 * Clinic is not a dependency of the project (about 700 packages): the script uses
 * `node_modules/.bin/clinic` or `clinic` on the PATH when there is one, else `npx --yes clinic@13.0.0`
 * (fetched from the npm registry once, then cached). If clinic cannot be had or fails, the
 * `cpuprof` tool still runs. Not part of `npm test`.
 *
 *   npm run profile                                    # doctor, flame, cpuprof; RTMP, 300 players, 15 s
 *   npm run profile -- --tools=cpuprof --protocol=rtmfp --players=200 --workers=0
 *   npm run profile -- --summarize=bench/results/profiles/x.cpuprofile
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RtmfpClient } from '../src/client/RtmfpClient.js';
import { RtmpClient } from '../src/client/RtmpClient.js';
import { PlayerProcess, numberOption } from './lib/common.js';
import { renderHeap, renderProfile, summarizeHeapSnapshot, summarizeProfile } from './lib/cpuprofile.js';
import type { ReadyEvent } from './lib/playerIpc.js';
import { distIsStale, freeDualPort, installCleanup, repoRoot, sleep, startServer, track, withEnv, withTimeout } from './lib/proc.js';
import { StreamPublisher, defaultProfile } from './lib/stream.js';

const usage = `npm run profile -- [options]: the Nimbus server under the fan-out load, profiled.

  --tools=LIST       doctor,flame,cpuprof,heap (default doctor,flame,cpuprof; doctor and flame are
                     Clinic.js; heap: a heap snapshot of the server at the end of the load, summed per
                     constructor and divided by the players)
  --protocol=P       rtmp (default) or rtmfp players (RTMFP publisher too)
  --players=N        players (default 300)
  --seconds=S        load after all players joined (default 15)
  --kbps=K           stream bitrate (default 1000)
  --workers=W        RTMFP.workers of the server with --protocol=rtmfp (default 0: all on the main thread)
  --kernels=K        native (default) or ts (NIMBUS_NO_NATIVE=1)
  --out=DIR          where the reports go (default bench/results/profiles)
  --summarize=FILE   only print the text summary of a .cpuprofile
`;

interface ProfileOptions {
  tools: string[];
  protocol: 'rtmp' | 'rtmfp';
  players: number;
  seconds: number;
  kbps: number;
  workers: number;
  kernels: 'native' | 'ts';
  outDir: string;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** How to run clinic here, or null. */
const findClinic = (): string[] | null => {
  const local = `${repoRoot}node_modules/.bin/clinic`;
  if (existsSync(local)) {
    return [local];
  }
  if (spawnSync('clinic', ['--version'], { stdio: 'ignore', env: withEnv({ NO_INSIGHT: '1', NO_UPDATE_NOTIFIER: '1' }) }).status === 0) {
    return ['clinic'];
  }
  log('clinic is not installed: trying npx --yes clinic@13.0.0 (the first time downloads it from the npm registry, ~30 s)');
  const npx = spawnSync('npx', ['--yes', 'clinic@13.0.0', '--version'], { encoding: 'utf8', env: withEnv({ NO_INSIGHT: '1', NO_UPDATE_NOTIFIER: '1' }), timeout: 300_000 });
  if (npx.status === 0) {
    return ['npx', '--yes', 'clinic@13.0.0'];
  }
  log(`clinic unavailable (${(npx.stderr ?? '').trim().split('\n').pop() ?? `exit ${npx.status}`}): doctor and flame skipped`);
  return null;
};

/** Publisher + players against `port` for o.seconds, then `atEnd` (with the load still on); resolves when they are gone. */
const applyLoad = async (o: ProfileOptions, port: number, atEnd?: () => Promise<void>): Promise<string> => {
  const profile = defaultProfile(o.kbps);
  const publisherClient = o.protocol === 'rtmfp' ? new RtmfpClient() : new RtmpClient();
  const players = new PlayerProcess({ NIMBUS_NO_NATIVE: undefined });
  let publisher: StreamPublisher | null = null;
  try {
    await withTimeout(publisherClient.connect(`${o.protocol}://127.0.0.1:${port}/live`), 15_000, 'publisher connect');
    const streamId = await publisherClient.publish('bench');
    publisher = new StreamPublisher(publisherClient, streamId, profile, (o.seconds + 120 + o.players / 10) * 1000);
    publisher.start();
    players.send({
      cmd: 'start',
      protocol: o.protocol,
      url: `${o.protocol}://127.0.0.1:${port}/live`,
      stream: 'bench',
      players: o.players,
      concurrency: o.protocol === 'rtmfp' ? 16 : 32,
      connectTimeoutMs: 20_000,
      maxLifetimeMs: (o.seconds + 180 + o.players / 10) * 1000,
      logCapacity: 1,
    });
    const ready = await players.next<ReadyEvent>('ready', 60_000 + o.players * 100);
    log(`  ${ready.connected}/${o.players} players joined in ${(ready.connectMs / 1000).toFixed(1)} s; load for ${o.seconds} s`);
    await sleep(o.seconds * 1000);
    await atEnd?.();
    return `${ready.connected} ${o.protocol.toUpperCase()} players of a ${o.kbps} kbit/s stream for ${o.seconds} s`;
  } finally {
    publisher?.stop();
    await players.stop();
    publisherClient.close();
  }
};

const serverArgs = (o: ProfileOptions, port: number): string[] => [
  `${repoRoot}dist/cli.js`,
  `--RTMP.port=${port}`,
  `--RTMFP.port=${o.protocol === 'rtmfp' ? port : 0}`,
  `--RTMFP.workers=${o.workers}`,
  '--host=127.0.0.1',
  '--HTTP.port=0',
  '--log=3',
];

const serverEnv = (o: ProfileOptions): Record<string, string | undefined> => ({ NIMBUS_NO_NATIVE: o.kernels === 'ts' ? '1' : undefined });

/** One clinic tool (doctor or flame) around the server; resolves with the HTML report's path. */
const runClinic = async (clinic: string[], tool: string, o: ProfileOptions): Promise<string> => {
  const port = await freeDualPort();
  const dest = `${o.outDir}/clinic`;
  mkdirSync(dest, { recursive: true });
  const [cmd, ...pre] = clinic;
  // Own process group: the SIGINT at the end goes to clinic and the server together, as Ctrl-C does.
  const child: ChildProcess = spawn(cmd, [...pre, tool, '--open=false', `--dest=${dest}`, '--', process.execPath, ...serverArgs(o, port)], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withEnv({ ...serverEnv(o), NO_INSIGHT: '1', NO_UPDATE_NOTIFIER: '1' }),
  });
  track(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const began = Date.now();
    while (!/nimbus listening: RTMP/.test(out)) {
      if (child.exitCode !== null || Date.now() - began > 60_000) {
        throw new Error(`clinic ${tool}: the server did not start:\n${out.slice(-2000)}`);
      }
      await sleep(100);
    }
    log(`clinic ${tool}: ${await applyLoad(o, port)}`);
  } finally {
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGINT');
    }
  }
  // Clinic analyses the data after the server exits: give it time.
  const code = await withTimeout(exited, 300_000, `clinic ${tool} analysis`).catch((err: unknown) => {
    process.kill(-child.pid!, 'SIGKILL');
    throw err;
  });
  const html = /Generated HTML file is (file:\/\/)?(\S+)/.exec(out);
  if (html === null) {
    throw new Error(`clinic ${tool} exited with ${code} without a report:\n${out.slice(-2000)}`);
  }
  return html[2];
};

/** The server under `node --cpu-prof`; resolves with the .cpuprofile files (main thread, then each worker thread). */
const runCpuProf = async (o: ProfileOptions): Promise<string[]> => {
  // A folder per run, no --cpu-prof-name: each thread (main, media workers, DH pool) writes its own file.
  const dir = `${o.outDir}/cpuprof-${o.protocol}-${o.kernels}-w${o.workers}-${o.players}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  mkdirSync(dir, { recursive: true });
  const server = await startServer('nimbus', {
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    rtmfp: o.protocol === 'rtmfp',
    args: [`--RTMFP.workers=${o.workers}`],
    env: serverEnv(o),
    ready: o.protocol === 'rtmfp' ? (o.workers > 0 ? new RegExp(`media worker ${o.workers - 1}\\)`) : /nimbus listening: RTMFP/) : /nimbus listening: RTMP/,
  });
  try {
    log(`cpuprof: ${await applyLoad(o, server.port)}`);
  } finally {
    await server.stop();
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    throw new Error(`no profile written in ${dir}`);
  }
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
  const thread = (f: string): number => Number(f.split('.')[4] ?? 0);
  return files.sort((a, b) => thread(a) - thread(b)).map((f) => `${dir}/${f}`);
};

/** A heap snapshot of the server at the end of the load (SIGUSR2); resolves with its path. */
const runHeap = async (o: ProfileOptions): Promise<string> => {
  const dir = `${o.outDir}/heap-${o.protocol}-${o.kernels}-w${o.workers}-${o.players}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  mkdirSync(dir, { recursive: true });
  const server = await startServer('nimbus', {
    nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`],
    rtmfp: o.protocol === 'rtmfp',
    args: [`--RTMFP.workers=${o.workers}`],
    env: serverEnv(o),
    ready: o.protocol === 'rtmfp' ? (o.workers > 0 ? new RegExp(`media worker ${o.workers - 1}\\)`) : /nimbus listening: RTMFP/) : /nimbus listening: RTMP/,
  });
  try {
    log(`heap: ${await applyLoad(o, server.port, async () => {
      server.child.kill('SIGUSR2');
      // The snapshot is written synchronously by the server's main thread: wait until its size settles.
      let last = -1;
      for (let i = 0; i < 600; i++) {
        await sleep(500);
        const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
        const size = files.length === 0 ? -1 : statSync(`${dir}/${files[0]}`).size;
        if (size > 0 && size === last) {
          return;
        }
        last = size;
      }
    })}`);
  } finally {
    await server.stop();
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  if (files.length === 0) {
    throw new Error(`no heap snapshot written in ${dir}`);
  }
  return `${dir}/${files[0]}`;
};

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    strict: true,
    options: {
      tools: { type: 'string' },
      protocol: { type: 'string' },
      players: { type: 'string' },
      seconds: { type: 'string' },
      kbps: { type: 'string' },
      workers: { type: 'string' },
      kernels: { type: 'string' },
      out: { type: 'string' },
      summarize: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.summarize !== undefined) {
    process.stdout.write(`${renderProfile(summarizeProfile(values.summarize), 25)}\n`);
    return 0;
  }
  const protocol = values.protocol ?? 'rtmp';
  const kernels = values.kernels ?? 'native';
  if ((protocol !== 'rtmp' && protocol !== 'rtmfp') || (kernels !== 'native' && kernels !== 'ts')) {
    process.stderr.write('--protocol: rtmp or rtmfp; --kernels: native or ts\n');
    return 2;
  }
  const o: ProfileOptions = {
    tools: (values.tools ?? 'doctor,flame,cpuprof').split(',').map((t) => t.trim()),
    protocol,
    players: Math.round(numberOption('players', values.players, 300, 1, 5000)),
    seconds: numberOption('seconds', values.seconds, 15, 1, 300),
    kbps: numberOption('kbps', values.kbps, 1000, 50, 50_000),
    workers: Math.round(numberOption('workers', values.workers, 0, 0, 64)),
    kernels,
    outDir: values.out ?? `${repoRoot}bench/results/profiles`,
  };
  for (const t of o.tools) {
    if (!['doctor', 'flame', 'cpuprof', 'heap'].includes(t)) {
      process.stderr.write(`--tools: unknown tool ${t} (doctor, flame, cpuprof, heap)\n`);
      return 2;
    }
  }
  installCleanup();
  mkdirSync(o.outDir, { recursive: true });
  if (distIsStale()) {
    log('warning: dist/ is older than src/ (or missing): run `npm run build` first, Nimbus runs from dist/');
  }
  const began = performance.now();
  const reports: string[] = [];
  let code = 0;
  const clinicTools = o.tools.filter((t) => t === 'doctor' || t === 'flame');
  const clinic = clinicTools.length > 0 ? findClinic() : null;
  for (const tool of clinicTools) {
    if (clinic === null) {
      reports.push(`clinic ${tool}: skipped (clinic unavailable)`);
      continue;
    }
    try {
      reports.push(`clinic ${tool}: ${await runClinic(clinic, tool, o)}`);
    } catch (err) {
      code = 1;
      reports.push(`clinic ${tool}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (o.tools.includes('cpuprof')) {
    try {
      for (const file of await runCpuProf(o)) {
        const summary = summarizeProfile(file);
        // Threads that did next to nothing (an idle DH pool thread...) get one line.
        reports.push(summary.idleShare > 0.98 ? `cpuprof: ${file}: ${((1 - summary.idleShare) * 100).toFixed(1)} % busy` : `cpuprof: ${file}\n\n${renderProfile(summary)}`);
      }
    } catch (err) {
      code = 1;
      reports.push(`cpuprof: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (o.tools.includes('heap')) {
    try {
      const file = await runHeap(o);
      reports.push(`heap: ${renderHeap(file, summarizeHeapSnapshot(file), o.players, 'player')}`);
    } catch (err) {
      code = 1;
      reports.push(`heap: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  process.stdout.write(`\nprofile (${o.protocol}, ${o.players} players, ${o.kernels} kernels${o.protocol === 'rtmfp' ? `, RTMFP.workers=${o.workers}` : ''}), ${Math.round((performance.now() - began) / 1000)} s:\n\n${reports.join('\n\n')}\n`);
  return code;
};

process.exitCode = await main();
