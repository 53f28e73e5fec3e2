/**
 * Limits an outsider cannot wear out (issue 14): one address holds at most
 * RTMP.maxConnectionsPerAddress sessions, and when the process runs out of descriptors the
 * server goes on serving the clients it has, logging the refusals once a second instead of once
 * per connection.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { type Socket, connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { sleep, startInProcess } from '../helpers/inProcess.js';
import { startServer } from '../helpers/serverProcess.js';
import { publishSynthetic } from '../helpers/synthetic.js';

describe('limits', { timeout: 90_000 }, () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) {
      await c();
    }
  });

  it('refuses a connection past RTMP.maxConnectionsPerAddress from one address, not from others', async () => {
    const { server } = await startInProcess({ 'RTMP.maxConnectionsPerAddress': '2' });
    cleanup.push(() => server.stop());
    const rtmp = server.rtmp!;
    // Sockets from a non-loopback address (loopback is never limited), as the listener gives them.
    const fake = (ip: string): Socket & { destroyedByServer: boolean } => {
      const s = Object.assign(new EventEmitter(), { remoteAddress: ip, remotePort: 5000, destroyedByServer: false });
      return Object.assign(s, { destroy: () => { s.destroyedByServer = true; } }) as unknown as Socket & { destroyedByServer: boolean };
    };
    rtmp.perAddress.acquire('192.0.2.7');
    rtmp.perAddress.acquire('192.0.2.7');
    const third = fake('192.0.2.7');
    (rtmp as unknown as { accept(s: Socket): void }).accept(third);
    assert.equal(third.destroyedByServer, true, 'the third from that address is refused');
    assert.equal(rtmp.perAddress.holding('192.0.2.7'), 2);
    assert.equal(rtmp.perAddress.acquire('192.0.2.8'), true, 'another address has its own share');
    // Loopback clients are never limited.
    const clients = [new RtmpClient(), new RtmpClient(), new RtmpClient()];
    const port = rtmp.port;
    for (const c of clients) {
      await c.connect(`rtmp://127.0.0.1:${port}/live`);
    }
    clients.forEach((c) => c.close());
  });

  it('out of descriptors: existing players keep receiving, refusals are logged once a second', async () => {
    const { server, port } = await startServer(['--RTMP.workers=0', '--log=6']);
    cleanup.push(() => server.stop());
    const publisher = new RtmpClient();
    await publisher.connect(`rtmp://127.0.0.1:${port}/live`);
    const id = await publisher.publish('fd');
    let frames = 0;
    const player = new RtmpClient({ onMedia: (type) => type === 9 && frames++ });
    await player.connect(`rtmp://127.0.0.1:${port}/live`);
    await player.play('fd');
    const source = publishSynthetic(publisher, id, { intervalMs: 20, maxFrames: 2000 });
    cleanup.push(() => {
      source.stop();
      publisher.close();
      player.close();
    });
    // Fewer descriptors than the connections below need (the process holds ~40 already).
    const open = execFileSync('bash', ['-c', `ls /proc/${server.child.pid}/fd | wc -l`], { encoding: 'utf8' });
    execFileSync('prlimit', [`--pid=${server.child.pid}`, `--nofile=${Number(open) + 20}`]);
    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      sockets.push(s);
    }
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    const started = Date.now();
    await sleep(2500);
    const seen = frames;
    await sleep(500);
    assert.ok(frames > seen, 'the player keeps receiving');
    const lines = server.output.split('\n').filter((l) => /out of file descriptors/.test(l));
    const seconds = (Date.now() - started) / 1000;
    assert.ok(lines.length >= 1, 'the refusals are logged');
    assert.ok(lines.length <= seconds + 1, `at most one line a second (${lines.length} lines in ${seconds.toFixed(1)} s)`);
    assert.equal(server.child.exitCode, null, 'the server is still running');
  });
});
