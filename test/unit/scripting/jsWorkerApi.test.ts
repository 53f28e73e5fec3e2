import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AmfEcmaArray } from '../../../src/amf/index.js';
import type { ScriptServer } from '../../../src/scripting/ServerDirectory.js';
import { harness } from './kit.js';

/** JS apps run in a worker thread: what they read and do of the server goes through the bridge (JsRemote, JsWorkers). */
describe('JS apps in their worker: the server objects', () => {
  it('reads live client fields, writes to the client, walks live collections with stable identities', async () => {
    const h = await harness({
      'www/main.mjs': `
        export function onConnection(client) {
          client.fields = () => [client.ping, client.address, client.properties.token, client.parameters.extra ?? null, client.rawId.length, client.protocol];
          client.touch = () => { client.properties.token = 'changed'; return client.properties.token; };
          client.tell = (name, ...args) => { client.writer.writeInvocation(name, ...args); return true; };
          client.bye = () => { client.writer.close('bye now'); };
          client.census = () => {
            const ids = [...this.mona.clients].map(([id]) => id);
            return [this.mona.clients.count, ids.includes(client.id), this.mona.clients.get(client.id) === client, this.mona.clients.get('nobody') ?? null];
          };
          return { extra: 'x' };
        }`,
    });
    const c = h.client('', { token: 'abc' });
    await h.connect(c);
    c.ping = 42;
    c.address = '10.1.1.1:5000';
    assert.deepEqual(await h.core.call(c, 'fields', []), [[42, '10.1.1.1:5000', 'abc', 'x', 32, 'RTMP']]);
    assert.deepEqual(await h.core.call(c, 'touch', []), ['abc'], 'properties are a copy: the server keeps its own');
    assert.equal(c.properties.token, 'abc');
    const bytes = Buffer.from([0, 1, 2, 255]);
    assert.deepEqual(await h.core.call(c, 'tell', ['hello', 1, bytes, { nested: [true] }]), [true]);
    assert.deepEqual(c.writer.calls.at(-1), ['hello', [1, bytes, { nested: [true] }]]);
    assert.ok(Buffer.isBuffer(c.writer.calls.at(-1)![1][1]), 'bytes arrive as a Buffer');
    const other = h.client();
    await h.connect(other);
    assert.deepEqual(await h.core.call(c, 'census', []), [[2, true, true, null]]);
    await h.core.call(c, 'bye', []);
    assert.equal(c.writer.closed, 'bye now');
    h.host.stop();
  });

  it('publishes, pushes and closes; refuses pushes into a client publication; sees listeners and sets their fields', async () => {
    const h = await harness({
      'www/main.mjs': `
        export function onConnection(client) {
          client.make = (name) => {
            const p = this.mona.publish(name);
            p.pushVideo(5, Buffer.from([0x17, 1, 2]));
            p.pushData('onMetaData', { width: 320 });
            return [p.name, p.running, this.mona.publications.get(name) === p];
          };
          client.end = (name) => { this.mona.publications.get(name).close(); return this.mona.publications.get(name) ?? null; };
          client.intrude = (name) => {
            const p = this.mona.publications.get(name);
            try { p.pushVideo(0, Buffer.from([1])); return 'pushed'; } catch (e) { return e.message; }
          };
          client.closeTheirs = (name) => {
            try { this.mona.publications.get(name).close(); return 'closed'; } catch (e) { return e.message; }
          };
          client.listeners = (name) => {
            const p = this.mona.publications.get(name);
            const out = [];
            for (const [who, listener] of p.listeners) {
              listener.receiveVideo = false;
              out.push([who === client, listener.publication === p, listener.parameters.mode ?? null]);
            }
            return [p.listeners.count, out, typeof p.videoQOS.byteRate];
          };
          client.video = (name) => this.mona.publications.get(name).listeners.values().map((l) => l.receiveVideo);
        }`,
    });
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'make', ['made']), [['made', true, true]]);
    // The pushes are messages: they arrive in order, right after the call's answer.
    const made = h.core.publication('made')!;
    for (const deadline = Date.now() + 2000; made.frames < 2 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(made.frames, 2);
    assert.equal(made.lastTime, 5, 'pushData went at the last time');
    assert.deepEqual(made.properties, { width: 320 });
    assert.deepEqual(await h.core.call(c, 'end', ['made']), [null]);
    const theirs = await h.core.publish(c, 'theirs');
    assert.deepEqual(await h.core.call(c, 'intrude', ['theirs']), ['publication theirs belongs to a client: push into mona:publish publications only']);
    assert.match(String((await h.core.call(c, 'closeTheirs', ['theirs']))[0]), /belongs to a client/);
    const sink = { queuedBytes: 0, writeFrame: () => undefined, onPublisherChange: () => undefined, onListenerClose: () => undefined };
    const listener = await h.core.subscribe(c, 'theirs?mode=live', sink);
    assert.deepEqual(await h.core.call(c, 'listeners', ['theirs']), [[1, [[true, true, 'live']], 'number']]);
    for (const deadline = Date.now() + 2000; listener.receiveVideo && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(listener.receiveVideo, false, 'listener.receiveVideo = false reached the server');
    assert.deepEqual(await h.core.call(c, 'video', ['theirs']), [[false]]);
    assert.ok(theirs.running);
    h.host.stop();
  });

  it('gives mesh servers to JS apps: handlers scripts put on them, send, broadcast, publicAddress, redirections', async () => {
    const sent: unknown[][] = [];
    const peer: ScriptServer = {
      address: '10.0.0.3:1936',
      host: '10.0.0.3',
      port: 1936,
      isTarget: true,
      configs: { type: 'edge' },
      publicAddress: (protocol) => (protocol === 'RTMFP' ? 'edge.example:1935' : null),
      send: (handler, ...args) => sent.push([handler, ...args]),
      reject: () => undefined,
    };
    const h = await harness({
      'www/main.mjs': `
        export function onServerConnection(server) {
          server.greeted = 0;
          server.onHello = function (name, data) {
            this.greeted++;
            this.send('welcome', name, data, this.configs.type, this.publicAddress('RTMFP'), this.greeted);
          };
        }
        export function onHandshake() { return this.mona.servers; }
        export function onConnection(client) {
          client.all = () => { this.mona.servers.broadcast('news', new AmfLike()); return [this.mona.servers.count, this.mona.servers.targets.count, this.mona.servers.get(1).address]; };
        }
        class AmfLike { constructor() { this.kept = 'fields'; } }`,
    }, {}, { list: () => [peer] });
    await h.host.onServerConnection(peer);
    const data = Buffer.from('bytes');
    assert.equal(await h.host.onServerMessage(peer, 'onHello', ['a', data]), true);
    assert.equal(await h.host.onServerMessage(peer, 'onHello', ['b', data]), true);
    assert.equal(await h.host.onServerMessage(peer, 'missing', []), false);
    for (const deadline = Date.now() + 2000; sent.length < 2 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(sent, [['welcome', 'a', data, 'edge', 'edge.example:1935', 1], ['welcome', 'b', data, 'edge', 'edge.example:1935', 2]]);
    assert.deepEqual(await h.host.onHandshake({ protocol: 'RTMFP', address: '1.2.3.4:5', path: '', properties: {}, attempts: 1 }), ['edge.example:1935']);
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'all', []), [[1, 1, '10.0.0.3:1936']]);
    for (const deadline = Date.now() + 2000; sent.length < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(sent[2], ['news', { kept: 'fields' }]);
    h.host.stop();
  });

  it('keeps the AMF value classes and cycles across', async () => {
    const h = await harness({
      'www/main.mjs': `
        export function onConnection(client) {
          client.echo = (value) => { const loop = { value }; loop.self = loop; return [value, loop.self.self === loop]; };
        }`,
    });
    const c = h.client();
    await h.connect(c);
    const meta = new AmfEcmaArray({ width: 320 });
    const [[value, cyclic]] = (await h.core.call(c, 'echo', [meta])) as [[AmfEcmaArray, boolean]];
    assert.ok(value instanceof AmfEcmaArray);
    assert.deepEqual(value.entries, { width: 320 });
    assert.equal(cyclic, true);
    h.host.stop();
  });
});
