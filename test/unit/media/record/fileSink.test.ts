import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSink } from '../../../../src/media/record/FileSink.js';
import { tempDir } from '../../../helpers/ffmpeg.js';

const options = { append: false, maxQueuedBytes: 1 << 20 };

describe('FileSink', () => {
  it('writes what is queued, in order, in the background, then the patches, and makes the folders', async () => {
    const file = join(tempDir(), 'a', 'b', 'out.bin');
    const errors: Error[] = [];
    const sink = new FileSink(file, options, (e) => errors.push(e));
    for (let i = 0; i < 2000; i++) {
      assert.ok(sink.write([Buffer.from([i & 0xff]), Buffer.from([(i >> 8) & 0xff])]));
    }
    await sink.close([{ at: 0, bytes: Buffer.from('PATCH') }]);
    const data = readFileSync(file);
    assert.equal(data.length, 4000);
    assert.equal(data.toString('latin1', 0, 5), 'PATCH');
    assert.equal(data[3000], 1500 & 0xff);
    assert.equal(sink.bytesWritten, 4000);
    assert.deepEqual(errors, []);
    assert.equal(sink.write([Buffer.from('late')]), false, 'closed');
  });

  it('appends after what the file has (cut to a size first), patches in place', async () => {
    const file = join(tempDir(), 'out.bin');
    writeFileSync(file, 'abcdefGARBAGE');
    const sink = new FileSink(file, { ...options, append: true, truncateTo: 6 }, () => undefined);
    sink.write([Buffer.from('ghi')]);
    await sink.close([{ at: 1, bytes: Buffer.from('B') }]);
    assert.equal(readFileSync(file, 'latin1'), 'aBcdefghi');
  });

  it('stops at the first error (disk full), says it once, and drops what waits', async () => {
    const errors: Error[] = [];
    const sink = new FileSink('/dev/full', options, (e) => errors.push(e));
    for (let i = 0; i < 100; i++) {
      sink.write([Buffer.alloc(1000)]);
      await new Promise((r) => setImmediate(r));
    }
    await sink.close();
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /ENOSPC/);
    assert.equal(sink.write([Buffer.alloc(1)]), false);
    assert.equal(sink.pending, 0);
  });

  it('gives up past its queue bound (the disk cannot keep up)', async () => {
    const errors: Error[] = [];
    const sink = new FileSink(join(tempDir(), 'slow.bin'), { ...options, maxQueuedBytes: 10_000 }, (e) => errors.push(e));
    assert.ok(sink.write([Buffer.alloc(6000)]));
    assert.equal(sink.write([Buffer.alloc(6000)]), false);
    await sink.close();
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /cannot keep up/);
  });

  it('never writes through a symbolic link, and a folder check can refuse the file', async () => {
    const dir = tempDir();
    const outside = join(tempDir(), 'victim');
    writeFileSync(outside, 'keep');
    symlinkSync(outside, join(dir, 'link.flv'));
    const errors: Error[] = [];
    await new FileSink(join(dir, 'link.flv'), options, (e) => errors.push(e)).close();
    assert.equal(readFileSync(outside, 'latin1'), 'keep');
    assert.match(errors[0].message, /ELOOP/);
    await new FileSink(join(dir, 'refused.flv'), { ...options, checkFolder: () => Promise.reject(new Error('no')) }, (e) => errors.push(e)).close();
    assert.equal(errors[1].message, 'no');
    assert.ok(!existsSync(join(dir, 'refused.flv')));
  });
});
