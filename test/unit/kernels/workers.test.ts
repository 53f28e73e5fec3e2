/**
 * The addon inside worker_threads: N-API instance data makes it context-aware, so two workers
 * load it at once (and a third after they are gone), each through the real loader, each logging
 * its choice, each sealing the same bytes as the TS kernels on the main thread. A worker with
 * NIMBUS_NO_NATIVE=1 gets the TS kernels.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { RTMFP_CONTENT_OFFSET, TsKernels } from '../../../src/kernels/index.js';
import type { KernelWorkerData, KernelWorkerResult } from './fixtures/kernelWorker.js';
import { nativeSkip } from './kernelsTestKit.js';

const WORKER = new URL('./fixtures/kernelWorker.ts', import.meta.url).href;
/**
 * Node 20 does not apply the test process's `--import tsx` to a worker's entry module, so a
 * plain-JS bootstrap registers tsx in the worker first, then imports the TS body.
 */
const TSX = import.meta.resolve('tsx/esm/api');
const BOOTSTRAP = `import(${JSON.stringify(TSX)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER)}); });`;

/** Runs one worker to its end. */
function runWorker(data: KernelWorkerData, env: NodeJS.ProcessEnv = process.env): Promise<KernelWorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, env });
    let result: KernelWorkerResult | null = null;
    worker.once('message', (message: KernelWorkerResult) => {
      result = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (result === null) {
        reject(new Error(`worker exited with code ${code} and no result`));
      } else {
        resolve(result);
      }
    });
  });
}

/** The reference datagrams, sealed by the TS kernels on this thread. */
function expected(data: KernelWorkerData): Buffer[] {
  const ts = new TsKernels();
  const key = ts.createPacketKey(data.key);
  return data.contents.map((content, i) => {
    const buf = Buffer.alloc(RTMFP_CONTENT_OFFSET + content.length + 16);
    buf.set(content, RTMFP_CONTENT_OFFSET);
    return Buffer.from(buf.subarray(0, ts.encryptPacket(key, i, buf, RTMFP_CONTENT_OFFSET + content.length, buf, 0)));
  });
}

const job = (): KernelWorkerData => ({
  key: randomBytes(16),
  contents: Array.from({ length: 20 }, (_, i) => randomBytes(1 + i * 53)),
});

const checkDatagrams = (result: KernelWorkerResult, data: KernelWorkerData): void => {
  const reference = expected(data);
  assert.equal(result.datagrams.length, reference.length);
  result.datagrams.forEach((d, i) => {
    assert.ok(Buffer.from(d).equals(reference[i]), `datagram ${i}`);
  });
};

void describe('kernels in worker_threads', () => {
  void it('two workers load the native addon at the same time, then a third after them', { skip: nativeSkip }, async () => {
    const jobs = [job(), job()];
    const results = await Promise.all(jobs.map((data) => runWorker(data)));
    results.forEach((result, i) => {
      assert.equal(result.name, 'native', result.log.join('\n'));
      assert.match(result.log.join('\n'), /using the native kernels in worker \d+/);
      checkDatagrams(result, jobs[i]);
    });
    const late = job();
    const third = await runWorker(late);
    assert.equal(third.name, 'native');
    checkDatagrams(third, late);
  });

  void it('NIMBUS_NO_NATIVE=1 gives a worker the TS kernels, with the same bytes', async () => {
    const data = job();
    const result = await runWorker(data, { ...process.env, NIMBUS_NO_NATIVE: '1' });
    assert.equal(result.name, 'ts');
    assert.match(result.log.join('\n'), /using the ts kernels in worker \d+ \(NIMBUS_NO_NATIVE=1\)/);
    checkDatagrams(result, data);
  });
});
