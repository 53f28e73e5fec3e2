import assert from 'node:assert/strict';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { harness, logs } from './kit.js';

/** Rewrites a file with a clearly newer mtime, and makes the next connection re-check it at once. */
const edit = (file: string, content: string): void => {
  writeFileSync(file, content);
  const later = new Date(Date.now() + 5000);
  utimesSync(file, later, later);
};

describe('app tree', () => {
  it('accepts every path with default behaviour when www/ does not exist', async () => {
    const h = await harness({ 'nothing.txt': '' });
    assert.deepEqual(await h.connect(h.client('/live')), {});
    assert.deepEqual(await h.connect(h.client('/any/deep/path')), {});
    assert.deepEqual(await h.core.publish(h.client('/live'), 's').then((p) => p.name), 's');
    h.host.stop();
  });

  it('maps paths to folders: an empty folder inherits, a missing one is InvalidApp', async () => {
    const h = await harness({
      'www/main.lua': 'function onConnection(client) return { from = "root", path = client.path } end',
      'www/empty/.keep': '',
    });
    assert.deepEqual(await h.connect(h.client('')), { from: 'root', path: '' });
    assert.deepEqual(await h.connect(h.client('/empty')), { from: 'root', path: '/empty' });
    await assert.rejects(h.connect(h.client('/missing')), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MS_ERR_CONNECT_INVALID_APP');
      assert.equal(err.message, "Application /missing doesn't exist");
      return true;
    });
    h.host.stop();
  });

  it('gives apps name, path, this, super and children, and globals that fall back to the parent', async () => {
    const h = await harness({
      'www/main.lua': `
        shared = "root value"
        function greet(who) return "hello " .. who end
        function onConnection(client, ...) return { by = "root", name = name, path = path } end`,
      'www/game/main.lua': `
        function onConnection(client, ...)
          local r = super.onConnection(client, ...)
          r.child = name .. "|" .. path .. "|" .. shared .. "|" .. greet("x") .. "|" .. tostring(this == _ENV)
          r.parentName = super.name
          return r
        end`,
      'www/game/room/.keep': '',
    });
    const r = await h.connect(h.client('/game'));
    assert.deepEqual(r, { by: 'root', name: '', path: '', child: 'game|/game|root value|hello x|true', parentName: '' }, 'functions see the globals of the app that defines them');
    const nested = await h.connect(h.client('/game/room'));
    assert.equal(nested.child, 'game|/game|root value|hello x|true', 'an empty app is served by its parent hook');
    h.host.stop();
  });

  it('runs onStart on load and onStop on stop, and loads children on demand', async () => {
    const h = await harness({
      'www/main.lua': `
        events = {}
        function onStart(path) table.insert(events, "start:" .. path) end
        function onConnection(client)
          function client:events()
            local c = children("sub")
            return table.concat(events, ","), c ~= nil and c.value or "none", children.sub ~= nil
          end
        end`,
      'www/sub/main.lua': 'value = "sub value"\nfunction onStart(path) table.insert(super.events, "start:" .. path) end',
    });
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'events', []), ['start:,start:/sub', 'sub value', true]);
    h.host.stop();
    assert.ok(logs.some((l) => l.includes('Application www/sub loaded')));
  });

  it('finds dofile, loadfile and require files in the app folder, then its parents', async () => {
    const h = await harness({
      'www/lib.lua': 'return { version = 3 }',
      'www/util.lua': 'helper = function() return "helped" end',
      'www/main.lua': 'dofile("util.lua")',
      'www/app/main.lua': `
        local lib = require("lib")
        local again = require("lib.lua")
        function onConnection(client)
          return { v = lib.version, same = lib == again, h = helper(), lf = loadfile("lib.lua")().version }
        end`,
    });
    assert.deepEqual(await h.connect(h.client('/app')), { v: 3, same: true, h: 'helped', lf: 3 });
    h.host.stop();
  });

  it('reloads an edited main.lua: onStop, reload, onStart; clients stay; errors reject until fixed', async () => {
    const h = await harness({
      'www/main.lua': `
        function onStart() NOTE("v1 start") end
        function onStop() NOTE("v1 stop") end
        function version() return 1 end
        function onConnection(client) function client:version() return version() end end`,
    });
    const main = join(h.dir, 'www/main.lua');
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'version', []), [1]);

    edit(main, 'function onStart() NOTE("v2 start") end\nfunction version() return 2 end\nfunction onConnection(client) return { v = 2 } end');
    h.host.tree.root.lastCheck = 0;
    await h.host.manage();
    assert.ok(logs.some((l) => l.includes('v1 stop')) && logs.some((l) => l.includes('v2 start')));
    assert.deepEqual(await h.core.call(c, 'version', []), [2], 'the connected client sees the new globals');
    assert.deepEqual(await h.connect(h.client()), { v: 2 });

    edit(main, 'function onConnection(client)\n  return {\nend');
    h.host.tree.root.lastCheck = 0;
    await assert.rejects(h.connect(h.client()), /www\/main\.lua:3: unexpected symbol near 'end'/);
    await assert.rejects(h.connect(h.client()), /www\/main\.lua:3/, 'the error stays until the file changes');
    assert.ok(logs.some((l) => /app \/: www\/main\.lua:3/.test(l)), 'the error is logged with file and line');

    edit(main, 'function onConnection(client) return { v = 3 } end');
    h.host.tree.root.lastCheck = 0;
    assert.deepEqual(await h.connect(h.client()), { v: 3 });
    h.host.stop();
  });

  it('closes the publications an app made when it stops, and forgets a deleted app', async () => {
    const h = await harness({
      'www/main.lua': '',
      'www/app/main.lua': 'pub = mona:publish("made")\nfunction onConnection(client) return { ok = pub ~= nil } end',
    });
    assert.deepEqual(await h.connect(h.client('/app')), { ok: true });
    assert.equal(h.core.publication('made')?.running, true);
    rmSync(join(h.dir, 'www/app'), { recursive: true });
    await assert.rejects(h.connect(h.client('/app')), /Application \/app doesn't exist/);
    assert.equal(h.core.publication('made'), undefined, 'the app stopped and its publication closed');
    h.host.stop();
  });

  it('calls onManage of the root app on the tick', async () => {
    const h = await harness({ 'www/main.lua': 'ticks = 0\nfunction onManage() ticks = ticks + 1 NOTE("tick ", ticks) end' });
    await h.host.manage();
    await h.host.manage();
    assert.ok(logs.some((l) => l.includes('tick 2')));
    h.host.stop();
  });
});
