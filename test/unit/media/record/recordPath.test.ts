import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordPath } from '../../../../src/media/record/recordPath.js';

describe('recordPath', () => {
  it('puts a stream name (subfolders allowed) in the folder with the extension', () => {
    assert.equal(recordPath('/r', 'show', '.flv'), '/r/show.flv');
    assert.equal(recordPath('/r', 'shows/monday', '.mp4'), '/r/shows/monday.mp4');
    assert.equal(recordPath('/r', 'émission 2', '.ts'), '/r/émission 2.ts');
    assert.equal(recordPath('/r', 'a.b', '.flv'), '/r/a.b.flv');
  });

  it('refuses every name that could leave the folder or name no plain file', () => {
    for (const name of ['', '..', '../x', 'a/../../x', 'a/..', '/etc/passwd', 'a\\..\\x', '.hidden', 'a/.x', 'a//b', 'a/', '/', 'c:x', 'x\u0000', 'a\nb', ' x', 'x ', 'a?b', 'a*b', 'a|b', 'x'.repeat(201)]) {
      assert.equal(recordPath('/r', name, '.flv'), null, JSON.stringify(name));
    }
  });
});
