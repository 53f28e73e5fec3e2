import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FrameKind, MediaFrame } from '../../../src/media/MediaFrame.js';
import { capture, harness, hooksRan, logs } from './kit.js';

const waitFor = async (check: () => boolean, ms = 3000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Lua bridge: values', () => {
  it('round-trips every byte of binary strings (NULs, invalid UTF-8) through hooks and RPC', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:echo(...) return ... end
          function client:info(s) return #s, s:byte(1), s:byte(#s) end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    for (let i = 0; i < 50; i++) {
      const bytes = randomBytes(1 + Math.floor(Math.random() * 3000));
      bytes[0] = 0;
      const [echoed] = await h.core.call(client, 'echo', [bytes]);
      const out = Buffer.isBuffer(echoed) ? echoed : Buffer.from(echoed as string, 'utf8');
      assert.ok(out.equals(bytes), `round trip ${i} (${bytes.length} bytes)`);
      assert.deepEqual(await h.core.call(client, 'info', [bytes]), [bytes.length, 0, bytes[bytes.length - 1]]);
    }
    h.host.stop();
  });

  it('gives a date argument to Lua as MonaServer\'s date table (__time and calendar fields) and reads one back as a date', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:fields(d) return type(d), d.__time, d.year end
          function client:echo(d) return d end
          function client:make(ms) return {__time = ms} end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    const date = new Date(Date.UTC(2014, 3, 22, 4, 0, 0));
    const [type, time, year] = await h.core.call(client, 'fields', [date]);
    assert.deepEqual([type, time], ['table', date.getTime()]);
    assert.equal(typeof year, 'number');
    const [echoed] = await h.core.call(client, 'echo', [date]);
    assert.ok(echoed instanceof Date && echoed.getTime() === date.getTime(), 'the same date back');
    const [made] = await h.core.call(client, 'make', [1412082917000]);
    assert.ok(made instanceof Date && made.getTime() === 1412082917000, 'a {__time} table answered is a date');
    h.host.stop();
  });

  it('maps numbers, booleans, nil, nested tables and arrays both ways', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:echo(...) return ... end
          function client:types(...)
            local out = {}
            for i = 1, select("#", ...) do out[i] = math.type((select(i, ...))) or type((select(i, ...))) end
            return out
          end
          function client:concat(n) return "x" .. n end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    const value = { a: 1, b: [1, 2, { c: 'd' }], e: true, f: 'é€', g: 1.5 };
    assert.deepEqual(await h.core.call(client, 'echo', [value, 'text', 3, -2.25, false, null]), [value, 'text', 3, -2.25, false, null]);
    assert.deepEqual(await h.core.call(client, 'types', [3, 3.5, 'x', true, {}]), [['integer', 'float', 'string', 'boolean', 'table']]);
    assert.deepEqual(await h.core.call(client, 'concat', [5]), ['x5'], 'integers stay integers (5, not 5.0)');
    h.host.stop();
  });

  it('hands publication:onVideo the exact packet and pushVideo sends exactly what it is given', async () => {
    const h = await harness({
      'www/main.lua': `
        copy = nil
        function watch(name)
          copy = mona:publish(name .. "-copy")
          local source = mona.publications[name]
          function source:onVideo(time, packet) copy:pushVideo(time, packet) end
          function source:onAudio(time, packet) copy:pushAudio(time + 1, packet) end
        end
        function onConnection(client)
          function client:watch(name) watch(name) return copy ~= nil end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    const source = await h.core.publish(null, 'src');
    assert.equal(source.feed.outputCount, 0, 'no hook, no tap');
    assert.deepEqual(await h.core.call(client, 'watch', ['src']), [true]);
    assert.equal(source.feed.outputCount, 1, 'onVideo defined: the publication has a tap');
    const copy = h.core.publication('src-copy')!;
    const got = capture(copy, (frame) => frame);
    const sent: MediaFrame[] = [];
    for (let i = 0; i < 200; i++) {
      const frame = new MediaFrame(i % 2 === 0 ? FrameKind.VIDEO : FrameKind.AUDIO, i * 20, randomBytes(1 + (i * 37) % 5000));
      sent.push(frame);
      source.push(frame);
    }
    await hooksRan();
    assert.equal(got.length, sent.length, 'pushed frames are delivered at once, without flush()');
    for (let i = 0; i < sent.length; i++) {
      assert.equal(got[i].kind, sent[i].kind);
      assert.equal(got[i].timestamp, sent[i].timestamp + (sent[i].kind === FrameKind.AUDIO ? 1 : 0));
      assert.ok(got[i].payload.equals(sent[i].payload), `frame ${i} bytes`);
    }
    h.host.stop();
  });
});

describe('Lua bridge: re-entrance', () => {
  it('runs a hook that a script triggers from inside another (writer:close → onDisconnection)', async () => {
    const h = await harness({
      'www/main.lua': `
        gone = {}
        function onDisconnection(client) table.insert(gone, client.id) end
        function onConnection(client)
          function client:quit()
            self.writer:close()
            return #gone, gone[1] == self.id
          end
        end`,
    });
    const client = h.client();
    client.writer.close = () => h.core.disconnect(client);
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'quit', []), [1, true]);
    h.host.stop();
  });
});

describe('Lua bridge: limits', () => {
  it('stops a runaway loop with the time budget, naming the app, the hook and the limit', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client, mode)
          if mode == "loop" then while true do end end
          return { ok = true }
        end`,
    }, { 'application.timeout': '0.2' });
    const started = Date.now();
    await assert.rejects(h.connect(h.client(), 'loop'), /app \/ onConnection: time budget of 200 ms exceeded/);
    assert.ok(Date.now() - started < 2000);
    assert.ok(logs.some((l) => /time budget of 200 ms exceeded/.test(l)), 'the breach is logged');
    assert.deepEqual(await h.connect(h.client(), 'fine'), { ok: true }, 'the next call works');
    h.host.stop();
  });

  it('fails a call that allocates without end at the memory cap, and keeps working', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client, mode)
          if mode == "grow" then
            local t = {}
            for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
          end
          return { ok = true }
        end`,
    }, { 'application.memoryMax': String(32 * 1024 * 1024) });
    await assert.rejects(h.connect(h.client(), 'grow'), /app \/ onConnection: memory cap of 33554432 bytes exceeded/);
    assert.deepEqual(await h.connect(h.client(), 'fine'), { ok: true });
    h.host.stop();
  });

  it('reports script errors with file and line', async () => {
    const h = await harness({
      'www/main.lua': 'function onConnection(client)\n  local x = nil\n  return x.field\nend',
    });
    await assert.rejects(h.connect(h.client()), /www\/main\.lua:3: attempt to index a nil value/);
    h.host.stop();
  });
});

describe('Lua bridge: Lua 5.1 and Cumulus compatibility', () => {
  it('offers unpack, table.getn, loadstring, setfenv on functions, # and pairs on collections, call-style access, cumulus', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:check()
            local t = { unpack({ 1, 2, 3 }) }
            assert(#t == 3 and table.getn(t) == 3)
            assert(loadstring("return 7")() == 7)
            local env = { y = 9 }
            local f = setfenv(function() return y end, env)
            assert(f() == 9 and getfenv(f) == env)
            assert(#mona.clients == mona.clients.count)
            local n = 0
            for id, c in pairs(mona.clients) do n = n + 1 assert(mona.clients(id) == c and mona.clients[id] == c) end
            for i, c in cumulus.clients:ipairs() do assert(cumulus.clients[i] == c) end
            assert(n == 2 and cumulus == mona)
            assert(mona.clients(self.rawId) == self)
            assert(mona.configs["RTMP.port"] == mona.configs.RTMP.port and type(mona.configs.RTMP.port) == "number")
            assert(mona.configs.media.gopCache == true)
            assert(#mona.servers == 0 and mona.servers.count == 0)
            assert(math.pow(2, 3) == 8)
            return true
          end
        end`,
    });
    const a = h.client();
    await h.connect(a);
    await h.connect(h.client());
    assert.deepEqual(await h.core.call(a, 'check', []), [true]);
    h.host.stop();
  });

  it('gives mona helpers: AMF, JSON, digests, split, time, absolutePath', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:check()
            local a, b, c = mona:fromAMF(mona:toAMF("x", 1.5, { k = "v" }))
            assert(a == "x" and b == 1.5 and c.k == "v")
            local bin = "\\0\\255\\1"
            assert(mona:fromAMF(mona:toAMF0(bin)) == bin)
            assert(mona:fromJSON(mona:toJSON({ a = 1 })).a == 1)
            assert(#mona:md5("abc") == 16 and #mona.sha256("abc") == 32)
            local x, y = mona:split("a, b", ", ")
            assert(x == "a" and y == "b")
            assert(mona:time() > 1600000000000)
            return mona:absolutePath("/app")
          end
        end`,
    });
    const a = h.client();
    await h.connect(a);
    const [path] = await h.core.call(a, 'check', []);
    assert.equal(path, `${h.dir}/www/app/`);
    h.host.stop();
  });

  it('keeps collections live: a publication seen before it starts is listed once it does', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:count() local n = 0 for _ in pairs(mona.publications) do n = n + 1 end return n, mona.publications.count end
        end`,
    });
    const a = h.client();
    await h.connect(a);
    assert.deepEqual(await h.core.call(a, 'count', []), [0, 0]);
    await h.core.publish(null, 'one');
    assert.deepEqual(await h.core.call(a, 'count', []), [1, 1]);
    await waitFor(() => true);
    h.host.stop();
  });
});

describe('Lua bridge: odd values', () => {
  it('fails a hook that returns a cyclic table or many values, without breaking the state', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:cycle() local t = {} t.self = t return t end
          function client:many() local t = {} for i = 1, 5000 do t[i] = i end return table.unpack(t) end
          function client:deep(v) return v end
        end`,
    });
    const c = h.client();
    await h.connect(c);
    await assert.rejects(h.core.call(c, 'cycle', []), /nested deeper than 32 levels/);
    assert.equal((await h.core.call(c, 'many', [])).length, 5000);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 30; i++) {
      deep = { next: deep, list: [1, 2, 3] };
    }
    assert.deepEqual(await h.core.call(c, 'deep', [deep]), [deep]);
    assert.deepEqual(await h.core.call(c, 'many', []).then((v) => v.length), 5000, 'the state still works');
    h.host.stop();
  });
});
