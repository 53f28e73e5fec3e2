import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';

describe('RTMFP media workers', { timeout: 60_000 }, () => {
  let s: RtmfpTestServer;

  before(async () => {
    s = await startRtmfpServer({ 'RTMFP.workers': '2' });
  });

  after(async () => {
    await s.server.stop();
  });

  it('spreads sessions over the workers through the front door', async () => {
    const clients = [0, 1, 2, 3].map(() => new RtmfpClient());
    for (const c of clients) {
      await c.connect(s.rtmfp('live'));
    }
    const ports = new Set(clients.map((c) => c.session!.address.port));
    assert.equal(ports.size, 2, 'both workers got sessions');
    assert.ok(!ports.has(s.port), 'no session on the front door');
    for (const c of clients) {
      c.close();
    }
  });

  it('asks the main thread\'s piscina pool for the handshake DH (workers never compute it)', async () => {
    const rtmfp = s.server.rtmfp!;
    const requests = rtmfp.requests as { computeKeys: (typeof rtmfp.requests)['computeKeys'] };
    const original = requests.computeKeys;
    let asked = 0;
    requests.computeKeys = (args) => {
      asked++;
      return original(args);
    };
    try {
      const clients = [new RtmfpClient(), new RtmfpClient()];
      for (const c of clients) {
        await c.connect(s.rtmfp('live'));
      }
      assert.equal(asked, 2, 'one DH per session, computed on the main side');
      clients.forEach((c) => c.close());
    } finally {
      requests.computeKeys = original;
    }
  });

  it('survives a crashed worker: its sessions close, the others keep working, a new worker takes over', async () => {
    const rtmfp = s.server.rtmfp!;
    const a = new RtmfpClient();
    const b = new RtmfpClient();
    await a.connect(s.rtmfp('live'));
    await b.connect(s.rtmfp('live'));
    assert.notEqual(a.session!.address.port, b.session!.address.port, 'one client per worker');
    const victim = rtmfp.workers.find((w) => w.port === a.session!.address.port)!;
    await victim.worker.terminate();
    await until(() => ![...s.server.core.clients.values()].some((c) => c.id === a.peerId), 5000, 'crashed sessions closed');
    assert.ok([...s.server.core.clients.values()].some((c) => c.id === b.peerId), 'the other worker still serves b');
    await assert.rejects(b.call('nothere'), /Call.Failed/);
    await until(() => rtmfp.workers.length === 2, 10_000, 'worker replaced');
    const c = new RtmfpClient();
    await c.connect(s.rtmfp('live'));
    a.close();
    b.close();
    c.close();
  });
});
