import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { harness } from './kit.js';

describe('io on real files and mona:listPaths', () => {
  it("reads and writes files of the app's folder only, as Lua's io does", async () => {
    const h = await harness({
      'www/app/main.lua': [
        'function onConnection(client)',
        '  function client:roundTrip()',
        '    local dir = mona:absolutePath(path)',
        '    local f = assert(io.open(dir .. "data.txt", "w"))',
        '    f:write("line one\\n", 42, "\\n", "\\0bytes\\255\\n")',
        '    f:close()',
        '    local r = assert(io.open("data.txt", "rb"))',
        '    local a = r:read("l")',
        '    local n = r:read("n")',
        '    r:seek("set", 0)',
        '    local all = r:read("a")',
        '    local size = r:seek("end")',
        '    r:close()',
        '    local lines = {}',
        '    for line in io.lines(dir .. "data.txt") do lines[#lines + 1] = line end',
        '    local app = assert(io.open(dir .. "data.txt", "a")) app:write("more") app:close()',
        '    return a, n, #all, size, #lines, io.type(r), (io.open(dir .. "data.txt"):read("a"):sub(-4))',
        '  end',
        '  function client:escape(p) local f, err = io.open(p, "r") return f == nil, err end',
        '  function client:list(p)',
        '    local names = {}',
        '    for _, file in ipairs(mona:listPaths(p)) do names[#names + 1] = file.name .. (file.isFolder and "/" or "") end',
        '    return table.concat(names, ",")',
        '  end',
        'end',
      ].join('\n'),
      'www/app/sub/x.txt': 'x',
      'www/secret.txt': 'top secret',
    });
    symlinkSync(join(h.dir, 'www', 'secret.txt'), join(h.dir, 'www', 'app', 'link.txt'));
    writeFileSync(join(h.dir, 'outside.txt'), 'outside');
    const client = h.client('/app');
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'roundTrip', []), ['line one', 42, 20, 20, 3, 'closed file', 'more']);
    assert.equal(readFileSync(join(h.dir, 'www', 'app', 'data.txt')).subarray(0, 9).toString(), 'line one\n', 'a real file');
    for (const p of ['../secret.txt', '../../outside.txt', join(h.dir, 'outside.txt'), '/etc/passwd', 'link.txt', 'sub/../../secret.txt']) {
      const [refused, err] = await h.core.call(client, 'escape', [p]);
      assert.equal(refused, true, p);
      assert.match(String(err), /Permission denied/, p);
    }
    assert.equal(existsSync(join(h.dir, 'www', 'app', 'nope')), false);
    assert.deepEqual(await h.core.call(client, 'list', ['/app']), ['data.txt,link.txt,main.lua,sub/']);
    assert.deepEqual(await h.core.call(client, 'list', ['/app/sub']), ['x.txt']);
  });
});
