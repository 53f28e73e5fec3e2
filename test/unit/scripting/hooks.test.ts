import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Group } from '../../../src/core/Group.js';
import type { ScriptServer, ServerDirectory } from '../../../src/scripting/ServerDirectory.js';
import { capture, harness, logs } from './kit.js';

const fakeServer = (address: string, isTarget: boolean, rtmfp: string | null): ScriptServer & { sent: unknown[][] } => {
  const sent: unknown[][] = [];
  return {
    address,
    host: address.split(':')[0],
    port: Number(address.split(':')[1]),
    isTarget,
    configs: { type: 'master', 'RTMFP.publicAddress': rtmfp ?? '' },
    publicAddress: () => rtmfp,
    send: (handler, ...args) => sent.push([handler, ...args]),
    reject: () => undefined,
    sent,
  };
};

describe('RTMFP-time hooks and address forms', () => {
  it('turns onHandshake returns into addresses: strings, arrays, servers, mona.servers, "myself" and "again"', async () => {
    const a = fakeServer('10.0.0.1:1936', true, 'a.example:1935');
    const b = fakeServer('10.0.0.2:1936', false, 'b.example:1935');
    const servers: ServerDirectory = { list: () => [a, b] };
    const h = await harness({
      'www/main.lua': `
        function onHandshake(protocol, address, path, properties, attempts)
          if properties.mode == "string" then return "1.2.3.4:1935" end
          if properties.mode == "array" then return { "1.1.1.1:1", { "2.2.2.2:2" } } end
          if properties.mode == "servers" then return mona.servers, "myself" end
          if properties.mode == "one" then return mona.servers[2] end
          if properties.mode == "call" then return mona.servers(1) end
          if properties.mode == "again" then return "AGAIN" end
          if properties.mode == "targets" then return mona.servers.targets end
          return nil
        end
        function onRendezVousUnknown(protocol, peerId)
          assert(#peerId == 32)
          return mona.servers
        end`,
    }, {}, servers);
    const ask = (mode: string): Promise<readonly string[]> =>
      h.host.onHandshake({ protocol: 'RTMFP', address: '5.6.7.8:9', path: '', properties: { mode }, attempts: 1 });
    assert.deepEqual(await ask('string'), ['1.2.3.4:1935']);
    assert.deepEqual(await ask('array'), ['1.1.1.1:1', '2.2.2.2:2']);
    assert.deepEqual(await ask('servers'), ['a.example:1935', 'b.example:1935', 'myself']);
    assert.deepEqual(await ask('one'), ['b.example:1935']);
    assert.deepEqual(await ask('call'), ['a.example:1935']);
    assert.deepEqual(await ask('again'), ['myself']);
    assert.deepEqual(await ask('targets'), ['a.example:1935']);
    assert.deepEqual(await ask('none'), []);
    assert.deepEqual(await h.host.onRendezVousUnknown('RTMFP', randomBytes(32)), ['a.example:1935', 'b.example:1935']);
    h.host.stop();
  });

  it('gives servers to scripts: fields, configs fallback, send and broadcast', async () => {
    const a = fakeServer('10.0.0.1:1936', true, 'a.example:1935');
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:servers()
            local s = mona.servers[1]
            s:send("hello", "from", 1)
            mona.servers:broadcast("all", true)
            return s.address, s.host, s.port, s.isTarget, s.type, s.configs.RTMFP.publicAddress, #mona.servers.initiators
          end
        end`,
    }, {}, { list: () => [a] });
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'servers', []), ['10.0.0.1:1936', '10.0.0.1', 1936, true, 'master', 'a.example:1935', 0]);
    assert.deepEqual(a.sent, [['hello', 'from', 1], ['all', true]]);
    h.host.stop();
  });

  it('lets the mesh call onServerConnection, server RPC methods and onServerDisconnection (the seed relay pattern)', async () => {
    const peer = fakeServer('10.0.0.3:1936', false, null);
    const h = await harness({
      'www/main.lua': `
        function onServerConnection(server)
          if server.address == "10.0.0.9:1" then error("not this one", 0) end
          server.publications = {}
          function server:publish(name) self.publications[name] = mona:publish(name) end
          function server:video(name, time, packet)
            local publication = self.publications[name]
            if publication then publication:pushVideo(time, packet) end
          end
        end
        function onServerDisconnection(server)
          for name, publication in pairs(server.publications) do publication:close() end
        end`,
    }, {}, { list: () => [peer] });
    await h.host.onServerConnection(peer);
    assert.equal(await h.host.onServerMessage(peer, 'publish', ['relayed']), true);
    const publication = h.core.publication('relayed')!;
    const got = capture(publication, (f) => f.payload);
    const packet = randomBytes(500);
    assert.equal(await h.host.onServerMessage(peer, 'video', ['relayed', 40, packet]), true);
    assert.ok(got[0].equals(packet));
    assert.equal(await h.host.onServerMessage(peer, 'unknown', []), false);
    await h.host.onServerDisconnection(peer);
    assert.equal(h.core.publication('relayed'), undefined);
    await assert.rejects(h.host.onServerConnection(fakeServer('10.0.0.9:1', true, null)), /not this one/);
    h.host.stop();
  });

  it('calls client:onJoinGroup/onUnjoinGroup/onAddressChanged, lists groups, and adds virtual members', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:onJoinGroup(group)
            NOTE("joined ", group.id, " size ", group:size(), " groups ", mona.groups.count)
            member = mona:joinGroup(string.rep("ab", 32), group.rawId)
          end
          function client:onUnjoinGroup(group) NOTE("left ", group.id) end
          function client:onAddressChanged(old) NOTE("moved from ", old, " to ", self.address) end
        end`,
    });
    const c = h.client();
    await h.connect(c);
    const group = new Group(randomBytes(32));
    group.members.set(c.id, { rawId: c.rawId, id: c.id, client: c });
    await h.host.onJoinGroup(c, group);
    assert.ok(logs.some((l) => l.includes(`joined ${group.id} size 1 groups 1`)));
    assert.equal(group.size, 2, 'the virtual member joined the group');
    assert.equal(group.members.get('ab'.repeat(32))?.client, null);
    c.address = '127.0.0.1:6000';
    await h.host.onAddressChanged(c, '127.0.0.1:5000');
    assert.ok(logs.some((l) => l.includes('moved from 127.0.0.1:5000 to 127.0.0.1:6000')));
    await h.host.onUnjoinGroup(c, group);
    assert.ok(logs.some((l) => l.includes(`left ${group.id}`)));
    h.host.stop();
  });
});

describe('CumulusServer scripts', () => {
  it('calls global onPublish/onSubscribe(client, ...) when the client defines none', async () => {
    const h = await harness({
      'www/main.lua': `
        function onPublish(client, publication)
          if publication.name == "bad" then error("no bad names", 0) end
          cumulus.lastPublisher = client.id
        end
        function onSubscribe(client, listener) return listener.publication.name ~= "hidden" end`,
    });
    const c = h.client();
    await h.connect(c);
    await assert.rejects(h.core.publish(c, 'bad'), /no bad names/);
    assert.equal((await h.core.publish(c, 'good')).name, 'good');
    const sink = { queuedBytes: 0, writeFrame: () => undefined, onPublisherChange: () => undefined, onListenerClose: () => undefined };
    await assert.rejects(h.core.subscribe(c, 'hidden', sink), /Not authorized to play hidden/);
    assert.ok(await h.core.subscribe(c, 'good', sink));
    h.host.stop();
  });
});
