import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness, logs } from './kit.js';

/**
 * Issue 13: a failing call is reported at the script's file:line, never inside Nimbus's own Lua
 * (the preludes that wrap host functions and Lua 5.1 names), with Lua 5.1's messages where 5.4's differ.
 */
describe('errors point at the script', () => {
  it('locates host-function failures, 5.1 compatibility failures and C-function failures in the script', async () => {
    const h = await harness({
      'www/main.lua': [
        'function onConnection(client)',
        '  function client:unpackNil() local x = unpack(nil) return x end',
        '  function client:getnNil() local x = table.getn(nil) return x end',
        '  function client:badAmf() local x = mona:fromAMF(5) return x end',
        '  function client:lengthOfNil() local x = table.unpack(nil) return x end',
        '  function client:missingArg() local x = string.rep() return x end',
        '  function client:clean() error("a clean message", 0) end',
        '  function client:located() error("with a location") end',
        'end',
      ].join('\n'),
    });
    const client = h.client();
    await h.connect(client);
    const failure = async (method: string): Promise<string> => {
      try {
        await h.core.call(client, method, []);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${method} did not fail`);
    };
    assert.equal(await failure('unpackNil'), "www/main.lua:2: bad argument #1 to 'unpack' (table expected, got nil)");
    assert.equal(await failure('getnNil'), "www/main.lua:3: bad argument #1 to 'getn' (table expected, got nil)");
    assert.equal(await failure('badAmf'), 'www/main.lua:4: unexpected AMF0 marker 0x35 (at byte 0)');
    assert.equal(await failure('lengthOfNil'), 'www/main.lua:5: attempt to get length of a nil value');
    assert.equal(await failure('missingArg'), "www/main.lua:6: bad argument #1 to 'rep' (string expected, got no value)");
    assert.equal(await failure('clean'), 'a clean message', 'error(msg, 0) keeps its message as it is');
    assert.equal(await failure('located'), 'www/main.lua:8: with a location');
    assert.ok(!logs.some((l) => /nimbus(-mona)?:\d+:/.test(l)), 'no log line names a line of Nimbus\'s own Lua');
  });
});
