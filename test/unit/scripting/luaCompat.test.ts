import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compatSource } from '../../../src/scripting/lua/luaCompat.js';
import { harness } from './kit.js';

describe('Lua 5.0/5.1 idioms', () => {
  it('gives vararg functions that read a free `arg` their Lua 5.0 arg table, on the same line', () => {
    const src = [
      'function f(...) return arg.n, arg[1] end',
      'function g(a, ...) local arg = 1 return arg end',
      'function h(...) return t.arg, { arg = 2 }, t:arg() end',
      'local function k(...) local function inner() return arg end return inner() end',
      'function m(arg, ...) return arg end',
      'function n(...) for arg in pairs({}) do end end',
    ].join('\n');
    const out = compatSource(src).split('\n');
    assert.equal(out.length, 6, 'same lines');
    assert.equal(out[0], 'function f(...) local arg = table.pack(...); return arg.n, arg[1] end');
    assert.equal(out[1], 'function g(a, ...) local arg = 1 return arg end', 'a local arg of its own');
    assert.equal(out[2], 'function h(...) return t.arg, { arg = 2 }, t:arg() end', 'fields named arg');
    assert.equal(out[3], 'local function k(...) local arg = table.pack(...); local function inner() return arg end return inner() end', 'an upvalue of an inner function');
    assert.equal(out[4], 'function m(arg, ...) return arg end', 'a parameter named arg');
    assert.equal(out[5], 'function n(...) for arg in pairs({}) do end end', 'a loop variable');
    assert.equal(compatSource('x = 1 +'), 'x = 1 +', 'unparsable: unchanged (Lua reports it)');
    assert.equal(compatSource('local x <const> = arg'), 'local x <const> = arg', 'Lua 5.4 syntax: unchanged');
  });

  it('runs a MonaServer app with module(..., package.seeall), the implicit arg table, and errors on the right lines', async () => {
    const h = await harness({
      'www/main.lua': [
        'local util = require("util")',
        'function onConnection(client)',
        '  function client:count(...) return arg.n, util.twice(arg[1]) end',
        '  function client:name() return util._NAME, util.greeting() end',
        '  function client:broken() return util.broken() end',
        'end',
      ].join('\n'),
      'www/util.lua': [
        'module(..., package.seeall)',
        'function twice(x) return x * 2 end',
        'function greeting() return "hello from " .. path end',
        'function broken() local t = nil return t.x end',
      ].join('\n'),
    });
    const client = h.client();
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'count', [21, 'b', 'c']), [3, 42]);
    assert.deepEqual(await h.core.call(client, 'name', []), ['util', 'hello from '], 'package.seeall: the app globals (path is "" for the root app)');
    await assert.rejects(h.core.call(client, 'broken', []), /www\/util\.lua:4: attempt to index a nil value/);
  });
});
