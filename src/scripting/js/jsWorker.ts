/**
 * A JS apps' worker (JsWorkers.ts starts one per JS app tree): imports the apps' modules and runs
 * their hooks with JsRuntime on stand-ins of the server's objects (JsRemote.ts). Every piece of
 * script work it starts (a hook call, a batch of media frames) is marked in shared memory, so the
 * main thread sees how long it has been running and stops the thread past the time budget; the
 * heap cap is the thread's resourceLimits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../../config/Config.js';
import { errorMessage } from '../../errors.js';
import { type FrameKind, MediaFrame } from '../../media/MediaFrame.js';
import { type LogLevel, Logger, setLogLevel, setLogSink } from '../../util/Logger.js';
import { type HookResult, NO_HOOK, ScriptError } from '../AppRuntime.js';
import { RemotePublication, WorkerBridge, workerRuntime } from './JsRemote.js';
import { type FromJsWorker, type JsWorkerSetup, PROGRESS, type ToJsWorker, heartbeatMs, progressViews } from './JsWire.js';

const setup = workerData as JsWorkerSetup;
const port = parentPort!;
const post = (message: FromJsWorker, transfer?: ArrayBuffer[]): void => port.postMessage(message, transfer);

setLogLevel(setup.logLevel as LogLevel);
setLogSink((level, scope, message) => post({ op: 'log', level, scope, message }));
const log = new Logger('script');

const { ids, times } = progressViews(setup.progress);
const bridge = new WorkerBridge(post, setup.syncPort, setup.syncFlag);
const { runtime, taps } = workerRuntime(bridge, setup.config as Config, { timeoutMs: setup.timeoutMs, memoryMax: setup.memoryMax }, log);

// An app's timer or socket event that throws must not end the thread (and every app with it).
process.on('uncaughtException', (err) => log.error(`JS apps of ${setup.label}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
process.on('unhandledRejection', (err) => log.error(`JS apps of ${setup.label}: unhandled rejection: ${errorMessage(err)}`));

/** Runs piece of work `id`, marked as running while its synchronous part runs; answers with its result. */
const run = (id: number, work: () => HookResult | Promise<HookResult>): void => {
  const now = Date.now();
  times[PROGRESS.LAST_STARTED_AT] = now;
  times[PROGRESS.RUNNING_SINCE] = now;
  Atomics.store(ids, PROGRESS.LAST_STARTED, id);
  Atomics.store(ids, PROGRESS.RUNNING, id);
  let result: HookResult | Promise<HookResult>;
  try {
    result = work();
  } catch (err) {
    fail(id, err);
    return;
  } finally {
    Atomics.store(ids, PROGRESS.RUNNING, 0);
    times[PROGRESS.LAST_ACTIVITY] = Date.now();
  }
  if (result instanceof Promise) {
    result.then((r) => done(id, r), (err: unknown) => fail(id, err));
  } else {
    done(id, result);
  }
};

const done = (id: number, result: HookResult): void => {
  times[PROGRESS.LAST_ACTIVITY] = Date.now();
  let value: unknown;
  try {
    value = result.defined ? bridge.toWire(result.values) : [];
  } catch (err) {
    fail(id, err);
    return;
  }
  post({ op: 'done', id, defined: result.defined, value });
};

const fail = (id: number, err: unknown): void => {
  times[PROGRESS.LAST_ACTIVITY] = Date.now();
  post({ op: 'failed', id, message: errorMessage(err), limit: err instanceof ScriptError ? err.limit : null });
};

const onMessage = (message: ToJsWorker): void => {
  switch (message.op) {
    case 'load': {
      run(message.id, async () => {
        const app = bridge.mirror(message.app);
        await runtime.load(app, message.file);
        app.loaded = true;
        return NO_HOOK;
      });
      return;
    }
    case 'call': {
      run(message.id, () => {
        const args = bridge.fromWire(message.args) as unknown[];
        if (message.target === 'app') {
          return runtime.callAppHook(bridge.mirror(message.app), message.name, message.own, args);
        }
        if (message.target === 'client') {
          const client = bridge.fromWire(message.client);
          return client === null ? NO_HOOK : runtime.callClientHook(bridge.mirror(message.app), client as never, message.name, args);
        }
        const object = bridge.fromWire(message.object);
        return typeof object !== 'object' || object === null ? NO_HOOK : runtime.callObjectHook(message.app === null ? null : bridge.mirror(message.app), object, message.name, args);
      });
      return;
    }
    case 'frames': {
      run(message.id, () => {
        for (const frame of message.frames) {
          const publication = bridge.fromWire(frame.pub);
          if (publication instanceof RemotePublication) {
            const payload = Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
            taps.observerOf(publication.h)?.(publication as never, new MediaFrame(frame.kind as FrameKind, frame.time, payload));
          }
        }
        return NO_HOOK;
      });
      return;
    }
    case 'unload': {
      const app = bridge.mirrorOf(message.app);
      if (app !== undefined) {
        runtime.unload(app);
        app.loaded = false;
      }
      return;
    }
    case 'release': {
      bridge.release(message.ids);
      return;
    }
    case 'manage': {
      runtime.manage();
      return;
    }
    case 'close': {
      runtime.close();
      process.exit(0);
    }
  }
};

port.on('message', onMessage);
times[PROGRESS.LAST_ACTIVITY] = Date.now();
// The sign of life the main thread's watchdog looks for: a thread stuck in an app's timer or socket event stops beating.
if (setup.timeoutMs > 0) {
  setInterval(() => (times[PROGRESS.LAST_ACTIVITY] = Date.now()), heartbeatMs(setup.timeoutMs)).unref();
}
post({ op: 'ready' });
