import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DataTable, DataTree, appDataPath, childPath } from '../../../src/scripting/data/DataTree.js';
import { DATA_FILE, PersistentData } from '../../../src/scripting/data/PersistentData.js';
import { harness } from './kit.js';

/** The tree as plain objects (tables as objects, values as they are). */
const plain = (table: DataTable | undefined): unknown => {
  if (table === undefined) {
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const key of table.keys()) {
    const v = table.entries.get(key)!;
    out[key] = v instanceof DataTable ? plain(v) : v;
  }
  return out;
};

const tmp = (): string => mkdtempSync(join(tmpdir(), 'nimbus-data-'));

describe('persistent data: the tree', () => {
  it('sets, gets, replaces and deletes nested values, and reports each stored entry', () => {
    const changes: Array<[string, unknown]> = [];
    const tree = new DataTree((path, value) => changes.push([path, value]));
    tree.set('', 'a', 'one');
    tree.set('', 'n', 10);
    tree.set('', 'b', true);
    tree.set('', 'bytes', Buffer.from([0, 255]));
    tree.set(childPath(childPath('', 'x'), 'y'), 'z', 'deep');
    assert.deepEqual(plain(tree.root), { a: 'one', b: true, bytes: Buffer.from([0, 255]), n: 10, x: { y: { z: 'deep' } } });
    assert.equal(tree.count(''), 4, 'values only, not tables');
    assert.deepEqual(changes.slice(4), [['/x', null], ['/x/y', null], ['/x/y/z', 'deep']]);

    changes.length = 0;
    tree.set('', 'x', { k: 'v', sub: { s: false }, gone: null });
    assert.deepEqual(plain(tree.table('/x')), { k: 'v', sub: { s: false } }, 'a table replaces the subtree');
    assert.equal(tree.table('/x/y'), undefined);
    assert.deepEqual(changes, [['/x/y/z', undefined], ['/x/y', undefined], ['/x', undefined], ['/x', null], ['/x/k', 'v'], ['/x/sub', null], ['/x/sub/s', false]]);

    tree.set('', 'a', { now: 'a table' });
    tree.set('/x', 'sub', 'now a value');
    assert.equal(tree.get('/a', 'now'), 'a table');
    assert.equal(tree.get('/x', 'sub'), 'now a value');
    assert.equal(tree.table('/x/sub'), undefined);
    assert.equal(tree.count(''), 3);

    tree.set('', 'x', undefined);
    tree.set('', 'missing', undefined);
    tree.set('/nowhere', 'missing', undefined);
    assert.equal(tree.get('', 'x'), undefined);
    assert.equal(tree.table('/nowhere'), undefined, 'removing from a table that is not there makes nothing');
    assert.deepEqual(Object.keys(plain(tree.root) as object), ['a', 'b', 'bytes', 'n']);
  });

  it('keys with / and % are escaped in paths; app paths map to nested tables', () => {
    const tree = new DataTree();
    tree.set('', 'a/b', { '%2F': 'odd' });
    assert.equal(tree.get('/a%2Fb', '%2F'), 'odd');
    assert.equal(tree.get('', 'a'), undefined);
    assert.equal(appDataPath('/Games/myGame'), '/Games/myGame');
    assert.equal(appDataPath(''), '');
    assert.throws(() => tree.set('', 'long', { [('k').repeat(2000)]: 1 }), /too long/);
    assert.throws(() => tree.set('', 'f', { f: (() => 1) as unknown as string }), /cannot store a function/);
    assert.equal(tree.get('', 'long'), undefined, 'a refused assignment changes nothing');
  });

  it('iterates in sorted key order, from any key on, even one removed meanwhile', () => {
    const tree = new DataTree();
    for (const k of ['b', '10', 'a', '2', 'c']) {
      tree.set('', k, k);
    }
    const keys: string[] = [];
    for (let e = tree.next('', undefined); e !== undefined; e = tree.next('', e[0])) {
      keys.push(e[0]);
      if (e[0] === 'a') {
        tree.set('', 'a', undefined);
        tree.set('', 'bb', 'new');
      }
    }
    assert.deepEqual(keys, ['10', '2', 'a', 'b', 'bb', 'c']);
    assert.equal(tree.next('/none', undefined), undefined);
  });
});

describe('persistent data: the store', () => {
  it('keeps every type and the shape of the tree across a restart, with nothing written before a commit', () => {
    const dir = tmp();
    const data = new PersistentData(dir);
    data.tree.set('', 'app', { s: 'str', n: 1.5, t: true, f: false, empty: {}, nested: { deeper: { v: 'x' } } });
    data.tree.set('', 'bytes', Buffer.from([1, 0, 255]));
    assert.ok(existsSync(join(dir, DATA_FILE)));
    data.commit();
    data.tree.set('/app', 's', 'changed');
    data.tree.set('/app/nested', 'deeper', undefined);
    data.commit();
    data.tree.set('', 'uncommitted', 'lost?');
    data.close();

    const again = new PersistentData(dir);
    assert.deepEqual(plain(again.tree.root), {
      app: { empty: {}, f: false, n: 1.5, nested: {}, s: 'changed', t: true },
      bytes: Buffer.from([1, 0, 255]),
      uncommitted: 'lost?',
    }, 'close commits what is left');
    assert.equal(again.tree.count('/app'), 4);
    again.close();
  });

  it('commits by itself at the end of the event-loop turn', async () => {
    const dir = tmp();
    const data = new PersistentData(dir);
    data.tree.set('', 'k', 'v');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const other = new PersistentData(dir);
    assert.equal(other.tree.get('', 'k'), 'v', 'another reader sees the committed turn');
    other.close();
    data.close();
  });

  it("imports a MonaServer data folder once, when the store is new (values in MD5-named files)", () => {
    const dir = tmp();
    const value = (path: string, content: string, name = createHash('md5').update(content).digest('hex')): void => {
      mkdirSync(join(dir, path), { recursive: true });
      writeFileSync(join(dir, path, name), content);
    };
    value('app/init', 'true');
    value('app/off', 'FALSE');
    value('app/n', '12');
    value('app/none', 'null');
    value('app/torn', 'half', 'b326b5062b2f0e69046810717534cb09');
    value('app/sub/s', 'text');
    writeFileSync(join(dir, 'stray.txt'), 'not data');
    const data = new PersistentData(dir);
    assert.deepEqual(plain(data.tree.root), { app: { init: true, n: '12', off: false, sub: { s: 'text' } } });
    data.tree.set('', 'app', undefined);
    data.close();
    const again = new PersistentData(dir);
    assert.deepEqual(plain(again.tree.root), {}, 'not imported again into a store that exists');
    again.close();
  });

  it('"off": in memory only', () => {
    const data = new PersistentData(null);
    data.tree.set('', 'k', 'v');
    data.commit();
    assert.equal(data.tree.get('', 'k'), 'v');
    data.close();
  });
});

describe('persistent data: data in Lua', () => {
  const script = [
    'function onConnection(client)',
    '  function client:write()',
    '    data.n = 10',
    '    data[1] = "one"',
    '    data.t = { 1, 2, x = { y = true, z = 1.5 } }',
    '    data.gone = "x"',
    '    data.gone = nil',
    '    return data.n, data["1"], data.t["1"], data.t[2], data.t.x.y, data.t.x.z, #data, data.count, #data.t, data.t.x == data.t.x',
    '  end',
    '  function client:read()',
    '    local keys = {}',
    '    for k, v in pairs(data) do keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{}" or tostring(v)) end',
    '    local n = {}',
    '    local k = next(data.t)',
    '    while k do n[#n + 1] = k k = next(data.t, k) end',
    '    local i = {}',
    '    for index, v in ipairs(data.t) do i[index] = v end',
    '    return table.concat(keys, ","), table.concat(n, ","), table.concat(i, ","), data.gone, tostring(data), data.count',
    '  end',
    '  function client:bad(what)',
    '    if what == "key" then data[{}] = 1 end',
    '    if what == "function" then data.f = print end',
    '    if what == "cycle" then local t = {} t.t = t data.c = t end',
    '  end',
    '  function client:child() return data.sub.v, #data.sub end',
    'end',
  ].join('\n');

  it('behaves as MonaServer\'s data: string keys, numbers as strings, proxies, #, count, pairs, next, ipairs', async () => {
    const h = await harness({ 'www/app/main.lua': script, 'www/app/sub/main.lua': 'data.v = "from the child"' });
    const client = h.client('/app');
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'write', []), ['10', 'one', '1', '2', true, '1.5', 2, 2, 2, true]);
    assert.deepEqual(await h.core.call(client, 'read', []), ['1=one,n=10,t={}', '1,2,x', '1,2', null, 'data: /app', 2]);
    for (const what of ['key', 'function', 'cycle']) {
      await assert.rejects(h.core.call(client, 'bad', [what]), /app\/main\.lua:\d+: .*(must be a string or a number|cannot store a function|contains itself)/, what);
    }
    const sub = h.client('/app/sub');
    await h.connect(sub);
    assert.deepEqual(await h.core.call(client, 'child', []), ['from the child', 1], "a child app's data is its parent's data.<name>");
    h.host.stop();

    const data = new PersistentData(join(h.dir, 'data'));
    assert.deepEqual(plain(data.tree.table('/app')), { 1: 'one', n: '10', sub: { v: 'from the child' }, t: { 1: '1', 2: '2', x: { y: true, z: '1.5' } } });
    data.close();
  });

  it('two apps writing their own and shared keys lose nothing across a restart', async () => {
    const files = {
      'www/main.lua': '',
      'www/a/main.lua': 'function onConnection(c) function c:w(i) data["own" .. i] = i  local s = super.data  s.shared = s.shared or {}  s.shared["a" .. i] = i end end',
      'www/b/main.lua': 'function onConnection(c) function c:w(i) data["own" .. i] = i  super.data.shared = super.data.shared or {}  super.data.shared["b" .. i] = i end end',
    };
    const h = await harness(files);
    const a = h.client('/a');
    const b = h.client('/b');
    await h.connect(a);
    await h.connect(b);
    await Promise.all(Array.from({ length: 20 }, (_, i) => [h.core.call(a, 'w', [i]), h.core.call(b, 'w', [i])]).flat());
    h.host.stop();

    const data = new PersistentData(join(h.dir, 'data'));
    const expected = (prefix: string): Record<string, string> => Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${prefix}${i}`, String(i)]));
    assert.deepEqual(plain(data.tree.table('/a')), expected('own'));
    assert.deepEqual(plain(data.tree.table('/b')), expected('own'));
    assert.deepEqual(plain(data.tree.table('/shared')), { ...expected('a'), ...expected('b') });
    data.close();
  });
});
