import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { sleep } from '../helpers/inProcess.js';
import { type ServerProcess, startServer } from '../helpers/serverProcess.js';

const APP = `
function onConnection(client)
  function client:put(key, value) data[key] = value return "stored" end
  function client:get(key) return data[key] end
  function client:bulk(name, n)
    local t = {}
    for i = 1, n do t[i] = "v" .. i end
    data[name] = t
    return n
  end
  function client:size(name)
    local t = data[name]
    if t == nil then return nil end
    return #t, t["1"], t[tostring(#t)]
  end
end
`;

/**
 * `data` survives a server process killed with SIGKILL: whatever a hook wrote is committed before
 * the hook's answer goes out, so an answered write is never lost; a write the kill cut short is
 * all there or not at all (one transaction).
 */
describe('persistent data across a killed server process', { timeout: 60_000 }, () => {
  let dir: string;
  let server: ServerProcess | null = null;
  let port = 0;

  const start = async (): Promise<RtmpClient> => {
    ({ server, port } = await startServer([`--application.dir=${dir}`]));
    const client = new RtmpClient();
    await client.connect(`rtmp://127.0.0.1:${port}/`);
    return client;
  };

  const kill = async (): Promise<void> => {
    const exit = await server!.stop('SIGKILL');
    assert.equal(exit, null, 'killed, not exited');
    server = null;
  };

  before(() => {
    dir = tempDir('nimbus-data-crash-');
    mkdirSync(join(dir, 'www'), { recursive: true });
    writeFileSync(join(dir, 'www/main.lua'), APP);
  });

  after(async () => {
    await server?.stop('SIGKILL');
  });

  it('keeps every answered write when the process is killed right after the hook returned', async () => {
    for (let round = 1; round <= 3; round++) {
      const client = await start();
      if (round > 1) {
        assert.deepEqual(await client.call('get', null, 'counter'), [String(round - 1)], `round ${round}: the last answered write is there`);
        assert.deepEqual(await client.call('size', null, `bulk${round - 1}`), [500, 'v1', 'v500']);
      }
      assert.deepEqual(await client.call('bulk', null, `bulk${round}`, 500), [500]);
      assert.deepEqual(await client.call('put', null, 'counter', round), ['stored']);
      // Killed at once: no clean stop, no later turn of the event loop to commit anything else.
      await kill();
      client.close();
    }
    const client = await start();
    assert.deepEqual(await client.call('get', null, 'counter'), ['3']);
    client.close();
    await kill();
  });

  it('a write cut short by the kill is all there or not at all', async () => {
    for (const delay of [0, 2, 5, 10]) {
      const client = await start();
      assert.deepEqual(await client.call('put', null, 'before', `delay ${delay}`), ['stored']);
      client.call('bulk', null, 'cut', 20_000).catch(() => {});
      await sleep(delay);
      await kill();
      client.close();

      const check = await start();
      assert.deepEqual(await check.call('get', null, 'before'), [`delay ${delay}`]);
      const [size, first, last] = await check.call('size', null, 'cut');
      assert.ok(size === null || (size === 20_000 && first === 'v1' && last === 'v20000'), `delay ${delay}: ${String(size)}`);
      assert.deepEqual(await check.call('put', null, 'cut', null), ['stored']);
      check.close();
      await kill();
    }
  });
});
