/**
 * Mesh instances in this process over loopback, with recording handlers in place of scripts:
 * lifecycle, order, the shared secret, the bounded queue, rejection, stop and reconnection.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/loadConfig.js';
import { Publication } from '../../../src/core/Publication.js';
import { MediaFrame } from '../../../src/media/MediaFrame.js';
import { ScriptTaps } from '../../../src/scripting/ScriptTaps.js';
import { Mesh, type MeshHandlers } from '../../../src/mesh/Mesh.js';
import type { MeshServer } from '../../../src/mesh/MeshServer.js';
import { LogLevel, setLogLevel, setLogSink } from '../../../src/util/Logger.js';
import { LinkProxy, freeTcpPort, sleep, until } from '../../integration/meshKit.js';

const logs: string[] = [];
setLogLevel(LogLevel.DEBUG);
setLogSink((_level, scope, message) => {
  logs.push(`[${scope}] ${message}`);
});

interface Recorder extends MeshHandlers {
  connections: MeshServer[];
  disconnections: Array<{ server: MeshServer; error?: string }>;
  messages: Array<{ server: MeshServer; handler: string; args: unknown[] }>;
  synced: string[][];
  refuse: string | null;
}

const recorder = (apps: string[] = ['']): Recorder => {
  const r: Recorder = {
    connections: [],
    disconnections: [],
    messages: [],
    synced: [],
    refuse: null,
    onServerConnection(server) {
      r.connections.push(server);
      if (r.refuse !== null) {
        throw new Error(r.refuse);
      }
    },
    onServerDisconnection(server, error) {
      r.disconnections.push({ server, error });
    },
    onServerMessage(server, handler, args) {
      r.messages.push({ server, handler, args: [...args] });
      return handler !== 'unknown';
    },
    runningApps: () => apps,
    syncApps(paths) {
      r.synced.push([...paths]);
    },
  };
  return r;
};

const meshes: Mesh[] = [];
const proxies: LinkProxy[] = [];

const start = async (overrides: Record<string, string>, handlers = recorder()): Promise<{ mesh: Mesh; h: Recorder; port: number }> => {
  const port = overrides['servers.port'] === undefined ? 0 : Number(overrides['servers.port']);
  const { config } = loadConfig({
    cwd: '/nonexistent',
    overrides: { host: '127.0.0.1', 'RTMP.port': '0', 'RTMFP.port': '0', 'HTTP.port': '0', 'servers.heartbeat': '0.2', 'servers.retryMax': '0.5', ...overrides },
  });
  const mesh = new Mesh(config);
  mesh.handlers = handlers;
  meshes.push(mesh);
  await mesh.start();
  return { mesh, h: handlers, port };
};

/** A listening mesh and one that dials it (through `via` when given). */
const pair = async (
  target: Record<string, string> = {},
  initiator: Record<string, string> = {},
  via: 'proxy' | null = null,
): Promise<{ t: Awaited<ReturnType<typeof start>>; i: Awaited<ReturnType<typeof start>>; proxy: LinkProxy | null }> => {
  const port = await freeTcpPort();
  const t = await start({ 'servers.port': String(port), ...target });
  let dial = port;
  let proxy: LinkProxy | null = null;
  if (via === 'proxy') {
    proxy = new LinkProxy(port);
    await proxy.start();
    proxies.push(proxy);
    dial = proxy.port;
  }
  const i = await start({ 'servers.targets': `127.0.0.1:${dial}?type=master`, ...initiator });
  return { t, i, proxy };
};

describe('mesh (in process)', { timeout: 60_000 }, () => {
  after(async () => {
    await Promise.all(meshes.map((m) => m.stop()));
    await Promise.all(proxies.map((p) => p.stop()));
  });

  it('joins, runs onServerConnection on both sides, delivers messages in order, syncs app paths', async () => {
    const { t, i } = await pair({}, {});
    await until(() => t.h.connections.length === 1 && i.h.connections.length === 1, 3000, 'both connected');
    const [fromT, fromI] = [t.h.connections[0], i.h.connections[0]];
    assert.equal(fromI.isTarget, true);
    assert.equal(fromT.isTarget, false);
    assert.equal(fromI.configs.type, 'master');
    assert.equal(fromI.type, 'master', 'query keys are fields');
    assert.equal(fromT.configs.type, undefined);
    assert.deepEqual(i.mesh.list(), [fromI]);
    await until(() => t.h.synced.length === 1 && i.h.synced.length === 1, 3000, '"." both ways');
    assert.deepEqual(t.h.synced[0], ['']);

    for (let n = 0; n < 200; n++) {
      fromI.send('count', n, 'x'.repeat(n % 7));
    }
    fromI.send('unknown');
    await until(() => t.h.messages.length === 201, 3000, 'messages');
    assert.deepEqual(t.h.messages.slice(0, 200).map((m) => m.args[0]), Array.from({ length: 200 }, (_, n) => n));
    assert.ok(Buffer.isBuffer(t.h.messages[3].args[1]), 'strings arrive as bytes');
    await until(() => logs.some((l) => l.includes('no script defines server:unknown(), message dropped')), 2000, 'unknown handler logged');
    assert.throws(() => fromI.send('.'), /invalid handler name/);

    t.mesh.broadcast(t.mesh.list(), 'all', ['one encoding']);
    await until(() => i.h.messages.some((m) => m.handler === 'all'), 2000, 'broadcast');
    i.mesh.appStarted('/game');
    await until(() => t.h.synced.some((p) => p[0] === '/game'), 2000, 'app started');
  });

  it('lets in only instances that know servers.secret, which never travels', async () => {
    const ok = await pair({ 'servers.secret': 's3cret-value' }, { 'servers.secret': 's3cret-value' }, 'proxy');
    await until(() => ok.t.h.connections.length === 1 && ok.i.h.connections.length === 1, 3000, 'joined with the secret');
    assert.ok(!ok.proxy!.recorded.includes('s3cret-value'), 'the secret is not on the wire');
    assert.ok(ok.proxy!.recorded.includes('nimbus.proof'));

    const wrong = await pair({ 'servers.secret': 's3cret-value' }, { 'servers.secret': 'guess' });
    await until(() => logs.some((l) => l.includes('the target does not know servers.secret')), 3000, 'initiator refuses a target with another secret');
    const missing = await pair({ 'servers.secret': 's3cret-value' }, {});
    await until(() => logs.some((l) => l.includes('rejected by the peer: this server requires servers.secret')), 3000, 'no secret here');
    assert.ok(logs.some((l) => l.includes('the initiator does not set servers.secret')));
    const open = await pair({}, { 'servers.secret': 's3cret-value' });
    await until(() => logs.some((l) => l.includes('rejected by the peer: servers.secret is not set on this server')), 3000, 'a target without the secret');
    await sleep(300);
    for (const p of [wrong, missing, open]) {
      assert.equal(p.t.h.connections.length + p.i.h.connections.length, 0, 'nobody joined');
    }
  });

  it('rejects a server whose onServerConnection throws, with the reason on both sides', async () => {
    const handlers = recorder();
    handlers.refuse = 'not this one';
    const port = await freeTcpPort();
    const t = await start({ 'servers.port': String(port) }, handlers);
    const i = await start({ 'servers.targets': `127.0.0.1:${port}` });
    await until(() => i.h.disconnections.length >= 1, 3000, 'initiator disconnected');
    assert.equal(i.h.disconnections[0].error, 'rejected by the peer: not this one');
    await until(() => t.h.disconnections.length >= 1, 3000, 'target disconnected');
    assert.equal(t.h.disconnections[0].error, 'rejected: not this one');
  });

  it('has scripts skip relayed media to the next keyframe while a peer is behind, and keeps every control message', async () => {
    const { t, i } = await pair({}, { 'servers.heartbeat': '0' });
    await until(() => t.h.connections.length === 1 && i.h.connections.length === 1, 3000, 'joined');
    const server = i.h.connections[0];
    t.h.connections[0].link.socket.pause();
    // A script relaying a publication to the peer (the seed's relay), through its tap.
    const publication = new Publication('live', { gopCache: true, gopCacheMaxBytes: 1 << 24 }, { maxQueuedBytes: 1 << 20, timeoutMs: 0 });
    publication.start(null);
    const taps = new ScriptTaps(i.mesh, 65536);
    let relayed = 0;
    taps.set(publication, 'lua', (_p, frame) => {
      relayed++;
      server.send('video', 'live', frame.timestamp / 40, frame.payload);
    });
    const payload = Buffer.alloc(32 * 1024, 1);
    for (let n = 0; n < 200; n++) {
      const key = Buffer.from(payload);
      key[0] = n % 50 === 0 ? 0x17 : 0x27;
      publication.push(new MediaFrame(9, n * 40, key));
      if (n % 10 === 0) {
        server.send('control', n);
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(taps.droppedFrames(publication) > 0, 'media was skipped');
    assert.equal(relayed + taps.droppedFrames(publication), 200);
    t.h.connections[0].link.socket.resume();
    await until(() => t.h.messages.filter((m) => m.handler === 'control').length === 20, 5000, 'every control message');
    await until(() => t.h.messages.filter((m) => m.handler === 'video').length === relayed, 5000, 'every relayed frame');
    const video = t.h.messages.filter((m) => m.handler === 'video').map((m) => m.args[1] as number);
    assert.ok(video.length < 200);
    for (let k = 1; k < video.length; k++) {
      if (video[k] !== video[k - 1] + 1) {
        assert.equal(video[k] % 50, 0, `after a gap (${video[k - 1]} → ${video[k]}) the stream resumes on a keyframe`);
      }
    }
  });

  it('closes only the connection that sends garbage', async () => {
    const { t, i } = await pair({}, {});
    await until(() => t.h.connections.length === 1, 3000, 'joined');
    const garbage = connect({ host: '127.0.0.1', port: t.port });
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from([0, 0, 0, 1, 0]));
    await until(() => garbage.destroyed || garbage.readyState === 'closed', 3000, 'garbage connection closed');
    assert.ok(logs.some((l) => /\[servers\] server 127\.0\.0\.1:\d+: handler reference runs past its frame/.test(l)));
    i.h.connections[0].send('still', 1);
    await until(() => t.h.messages.some((m) => m.handler === 'still'), 2000, 'the mesh link still works');
  });

  it('reports a peer that vanishes with a RST (ECONNRESET) exactly as one that ends with a FIN', async () => {
    const { t, i } = await pair({}, {});
    await until(() => t.h.connections.length === 1 && i.h.connections.length === 1, 3000, 'joined');
    // A killed process with unread bytes in its receive buffer makes its kernel send RST.
    t.h.connections[0].link.socket.resetAndDestroy();
    await until(() => i.h.disconnections.length === 1, 3000, 'initiator sees the reset');
    assert.equal(i.h.disconnections[0].error, 'connection closed by the peer');
    assert.ok(logs.some((l) => /\[servers\] server 127\.0\.0\.1:\d+: read ECONNRESET \(the peer is gone\)/.test(l)), 'the RST path ran');
    await until(() => t.h.connections.length === 2 && i.h.connections.length === 2, 4000, 'rejoined');
    // A clean end (FIN): the same cause.
    t.h.connections[1].link.socket.destroy();
    await until(() => i.h.disconnections.length === 2, 3000, 'initiator sees the end');
    assert.equal(i.h.disconnections[1].error, 'connection closed by the peer');
  });

  it('joins a target given by host name', async () => {
    const port = await freeTcpPort();
    const t = await start({ 'servers.port': String(port) });
    const i = await start({ 'servers.targets': `localhost:${port}` });
    await until(() => i.h.connections.length === 1 && t.h.connections.length === 1, 4000, 'joined through a name');
  });

  it('stops with "Server is stopping" (an orderly close for the peer) and retries a target until it is back', async () => {
    const port = await freeTcpPort();
    const i = await start({ 'servers.targets': `127.0.0.1:${port}` });
    await sleep(300);
    assert.equal(i.h.connections.length, 0, 'target not up yet');
    const t = await start({ 'servers.port': String(port) });
    await until(() => i.h.connections.length === 1, 3000, 'joined on a retry within the back-off');
    await t.mesh.stop();
    await until(() => i.h.disconnections.length === 1, 2000, 'initiator sees the stop');
    assert.equal(i.h.disconnections[0].error, 'rejected by the peer: Server is stopping');
    assert.equal(t.h.disconnections[0].error, 'this server is stopping');
    assert.ok(logs.some((l) => /\[servers\] Disconnection from 127\.0\.0\.1:\d+ server, rejected by the peer: Server is stopping/.test(l)));
    const again = await start({ 'servers.port': String(port) });
    await until(() => i.h.connections.length === 2 && again.h.connections.length === 1, 4000, 'rejoined');
  });
});
