/**
 * Seed scenarios 1, 2 and part of 8 (MonaServer "Scalability and load-balancing": Configuration,
 * Exchange data): instances that join, see each other, exchange RPC, sync apps, and survive a
 * cut link and garbage on servers.port. Real processes on loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { type Instance, LinkProxy, count, freeTcpPort, kill, restart, sleep, startInstance, stopAll, waitCount } from './meshKit.js';


const call = async (instance: Instance, method: string, ...args: unknown[]): Promise<unknown> => {
  const client = new RtmpClient();
  try {
    await client.connect(instance.rtmp());
    const [value] = await client.call(method, null, ...args);
    return value;
  } finally {
    client.close();
  }
};

describe('mesh: joining, RPC, app sync and link faults (real processes)', { timeout: 120_000 }, () => {
  let a: Instance;
  let b: Instance;
  let c: Instance;
  let j: Instance;
  let meshB: number;
  let proxy: LinkProxy;

  before(async () => {
    meshB = await freeTcpPort();
    b = await startInstance('B', { fixture: 'basic', meshPort: meshB, extra: ['--publicHost=hostB.example'] });
    proxy = new LinkProxy(meshB);
    await proxy.start();
    // A, C and J join B one after the other (a running instance is joined without a restart).
    a = await startInstance('A', { fixture: 'basic', targets: `127.0.0.1:${meshB}?type=master` });
    await waitCount(b, /onHello A from/, 1);
    c = await startInstance('C', { fixture: 'basic', targets: `127.0.0.1:${proxy.port}` });
    await waitCount(b, /onHello C from/, 1);
    j = await startInstance('J', { fixture: 'js', targets: `127.0.0.1:${meshB}` });
    await waitCount(b, /onHello J from/, 1);
  });

  after(async () => {
    await proxy.stop();
    await stopAll();
  });

  it('shows each side the connection: isTarget, type, address and host as the seed prints them', async () => {
    await waitCount(a, /onHello B from/, 1);
    const out = a.process.output;
    assert.match(out, new RegExp(`Target gotten : 127\\.0\\.0\\.1:${meshB} \\(hostB\\.example for clients\\)`));
    assert.match(out, /main\.lua:11: true/, 'A sees B as a target');
    assert.match(out, new RegExp(`connection 127\\.0\\.0\\.1:${meshB} isTarget=true type=master host=hostB\\.example`));
    assert.match(out, /Master server connected/);
    const outB = b.process.output;
    assert.match(outB, /main\.lua:11: false/, 'B sees A as an initiator');
    assert.match(outB, /connection 127\.0\.0\.1:\d+ isTarget=false type=nil host=127\.0\.0\.1 rtmp=\d+/);
    assert.doesNotMatch(outB, /Master server connected/, "the target's query properties stay on the dialing side");
    assert.match(j.process.output, new RegExp(`js connection 127\\.0\\.0\\.1:${meshB} isTarget=true type=undefined host=hostB\\.example`));
  });

  it('runs the onHello RPC both ways (Lua and JS), lists mona.servers in connection order, broadcasts', async () => {
    await waitCount(j, /js onHello B from/, 1);
    const listed = (await call(b, 'servers')) as Record<string, unknown>;
    const names = (listed.list as string[]).map((s) => s.split('@')[0]);
    assert.deepEqual(names, ['A', 'C', 'J'], 'connection order');
    assert.ok((listed.list as string[]).every((s) => s.endsWith(' initiator')));
    assert.equal(listed.count, 3);
    assert.equal(listed.length, 3);
    assert.equal(listed.byAddress, 3, 'pairs(mona.servers) gives address -> server, and mona.servers[address] finds it');
    assert.equal(listed.first, 'A', 'Cumulus call form mona.servers(1)');
    assert.equal(listed.firstIndexed, 'A', 'mona.servers[1]');
    assert.equal(listed.initiators, 3);
    assert.equal(listed.targets, 0);
    const fromA = (await call(a, 'servers')) as Record<string, unknown>;
    assert.deepEqual(fromA.list, [`B@127.0.0.1:${meshB} target`]);
    assert.equal(fromA.targets, 1);
    const fromJ = (await call(j, 'servers')) as Record<string, unknown>;
    assert.deepEqual(fromJ.list, [`B@127.0.0.1:${meshB}`]);
    assert.equal(fromJ.first, 'B');

    await call(b, 'shout', 'hi all');
    await waitCount(a, /shout from B: hi all/, 1);
    await waitCount(c, /shout from B: hi all/, 1);
    await waitCount(j, /no script defines server:shout\(\)/, 1);
    await call(j, 'shout', 'from js');
    await waitCount(b, /shout from J: from js/, 1);
    await call(a, 'typo');
    await waitCount(b, /no script defines server:nobodyListens\(\), message dropped/, 1);
  });

  it('sends public settings only in HELLO', async () => {
    const keys = (await call(b, 'configKeys', 1)) as string[];
    for (const key of ['RTMP.port', 'RTMFP.port', 'servers.port']) {
      assert.ok(keys.includes(key), `${key} in ${keys.join(',')}`);
    }
    for (const key of ['application.dir', 'servers.targets', 'servers.secret', 'name', 'host', 'logs.directory', 'nimbus.version', 'nimbus.heartbeat']) {
      assert.ok(!keys.includes(key), `${key} is not sent`);
    }
    const fromA = (await call(a, 'configKeys', 1)) as string[];
    assert.ok(fromA.includes('publicHost'));
    assert.ok(fromA.includes('type'), "the target's query properties are in configs on the dialing side");
  });

  it('loads an app started on one instance on the others that have it ("." sync), with per-app server events', async () => {
    const client = new RtmpClient();
    await client.connect(a.rtmp('game'));
    client.close();
    await waitCount(a, /game started on A/, 1);
    await waitCount(a, new RegExp(`game knows 127\\.0\\.0\\.1:${meshB}`), 1);
    await waitCount(b, /game started on B/, 1);
    await waitCount(b, /game knows 127\.0\.0\.1:\d+/, 3);
    await waitCount(c, /game started on C/, 1, 5000);
    assert.equal(count(b, /Master server connected|following server/), 0);
  });

  it('detects a silently cut link by heartbeat on both sides, and rejoins when it is restored', async () => {
    const leftOnB = count(b, /disconnection 127\.0\.0\.1:\d+ name=C/);
    proxy.freeze();
    await waitCount(c, /Disconnection from .*nothing received for \d+ ms/, 1, 8000);
    await waitCount(b, /Disconnection from .*nothing received for \d+ ms/, 1, 8000);
    await waitCount(b, /disconnection 127\.0\.0\.1:\d+ name=C error=nothing received/, leftOnB + 1, 8000);
    await sleep(300);
    proxy.restore();
    await waitCount(b, /onHello C from/, 2, 8000);
    await waitCount(c, /onHello B from/, 2, 8000);
  });

  it('closes only the offending connection on garbage or an oversized frame on servers.port', async () => {
    const send = (bytes: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: meshB }, () => socket.write(bytes));
        socket.on('close', () => resolve());
        socket.on('error', () => undefined);
        setTimeout(() => socket.destroy(), 3000).unref();
      });
    const warnings = count(b, /WARN \[servers\] server 127\.0\.0\.1:\d+: /);
    await send(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await waitCount(b, /frame of 4294967280 bytes exceeds the 33554432-byte limit/, 1);
    await send(Buffer.concat([Buffer.from([0, 0, 0, 6, 5]), Buffer.from('video')]));
    await waitCount(b, /message "video" before HELLO/, 1);
    await send(Buffer.from([0, 0, 0, 3, 0, 7, 1]));
    await waitCount(b, /unknown handler reference 7/, 1);
    await send(randomBytes(64).fill(0, 0, 1));
    await waitCount(b, /WARN \[servers\] server 127\.0\.0\.1:\d+: /, warnings + 4);
    // Everyone else is still served.
    await call(b, 'shout', 'still here');
    await waitCount(a, /shout from B: still here/, 1);
    await waitCount(c, /shout from B: still here/, 1);
  });

  it('fires onServerDisconnection and onServerConnection again when an instance dies and comes back', async () => {
    await kill(b, 'SIGKILL');
    await waitCount(a, /Master server disconnected/, 1, 5000);
    // SIGKILL ends B's sockets with a FIN or a RST (ECONNRESET) depending on timing; both are one cause.
    await waitCount(j, /js disconnection 127\.0\.0\.1:\d+ name=B error=connection closed by the peer/, 1, 5000);
    b = await restart(b);
    await waitCount(a, /Master server connected/, 2, 8000);
    await waitCount(b, /onHello A from/, 1, 8000);
    await waitCount(j, /js onHello B from/, 2, 8000);
  });

  it('rejects a server when onServerConnection raises an error, with its message on both sides', async () => {
    const meshR = await freeTcpPort();
    const r = await startInstance('R', { fixture: 'basic', meshPort: meshR, extra: ['--rejectServers=true'] });
    const d = await startInstance('D', { fixture: 'basic', targets: `127.0.0.1:${meshR}` });
    await waitCount(r, /server 127\.0\.0\.1:\d+ rejected: www\/main\.lua:\d+: 127\.0\.0\.1:\d+ is trying to connect to the server => rejected/, 1);
    await waitCount(d, /Disconnection from 127\.0\.0\.1:\d+ server, rejected by the peer: www\/main\.lua:\d+: 127\.0\.0\.1:\d+ is trying to connect to the server => rejected/, 1);
    await waitCount(d, /disconnection 127\.0\.0\.1:\d+ name=nil error=rejected by the peer/, 1);
    await kill(d);
    await kill(r);
  });
});
