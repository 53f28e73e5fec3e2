/**
 * Log files through pino's writer with pino-roll's rotation (issue 14): MonaServer-style text
 * lines or JSON for log collectors, rotated by size, the oldest files removed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openLogOutput } from '../../../src/util/LogOutput.js';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

describe('log output', () => {
  it('writes text lines and rotates by size, keeping logs.rotation files', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'nimbus-logs-'));
    const out = await openLogOutput({ directory, name: 'server', rotation: 3, maxSize: 2048, format: 'text' });
    for (let i = 0; i < 300; i++) {
      out.sink(6, 'rtmp', `line ${i} ${'x'.repeat(40)}`);
      if (i % 50 === 49) {
        // pino-roll checks the size as writes complete: let them.
        await settle();
      }
    }
    out.flush();
    await settle();
    const files = readdirSync(directory).filter((f) => f.startsWith('server.')).sort();
    assert.ok(files.length >= 2 && files.length <= 3, `rotated and bounded: ${files.join(', ')}`);
    const newest = files.map((f) => readFileSync(join(directory, f), 'utf8')).find((t) => t.includes('line 299'))!;
    assert.match(newest, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[rtmp\] line \d+ x+$/m);
  });

  it('writes one JSON object a line with Mona\'s levels', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'nimbus-logs-'));
    const out = await openLogOutput({ directory, name: 'json', rotation: 2, maxSize: 1 << 20, format: 'json' });
    out.sink(2, 'core', 'critical thing');
    out.sink(5, 'servers', 'a note');
    out.sink(7, 'rtmfp', 'debug detail');
    out.flush();
    await settle();
    const [file] = readdirSync(directory).filter((f) => f.startsWith('json.'));
    const lines = readFileSync(join(directory, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.level, l.scope, l.msg]), [
      [55, 'core', 'critical thing'],
      [35, 'servers', 'a note'],
      [20, 'rtmfp', 'debug detail'],
    ]);
    assert.equal(typeof lines[0].time, 'string');
  });
});
