import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ComputeKeys, KeyResult } from './computeKeys.js';

/**
 * The task file: the built one, also when running from sources (tests under tsx build `dist/`
 * first), because piscina's threads load plain JavaScript.
 */
const taskFile = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../../../dist/protocols/rtmfp/crypto/keyTask.js' : './keyTask.js', import.meta.url),
);

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A piscina pool for handshake DH and key derivation, so a burst of handshakes does not stall the
 * main thread's packets. `computeKeys` plugs into RtmfpHandshake; the handshake itself caps the
 * computations in flight.
 */
export class KeyPool {
  private readonly pool: Piscina;

  constructor(maxThreads: number) {
    this.pool = new Piscina({ filename: taskFile, minThreads: 1, maxThreads, idleTimeout: 30_000 });
  }

  /** Whether the task file exists (a source checkout that was never built has none). */
  static get available(): boolean {
    return existsSync(taskFile);
  }

  readonly computeKeys: ComputeKeys = async (request) => {
    const result = (await this.pool.run(request)) as KeyResult | null;
    return result === null
      ? null
      : { skrc: asBuffer(result.skrc), encryptKey: asBuffer(result.encryptKey), decryptKey: asBuffer(result.decryptKey), options: result.options };
  };

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
