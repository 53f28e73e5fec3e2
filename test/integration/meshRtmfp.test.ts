/**
 * Seed scenarios 5, 6 and 7 (MonaServer "Load balancing and rendezvous service"): handshake
 * redirection round-robin and to every server, rendezvous of peers that live on different
 * instances, NetGroup membership synced through virtual members; then the same as CumulusServer's
 * scripts write it. Real processes on loopback, driven by the RTMFP test client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { withTimeout } from '../helpers/ffmpeg.js';
import { type Instance, freeTcpPort, sleep, startInstance, stopAll, until, waitCount } from './meshKit.js';

const JOINED = /Connection established with/;

const untilAsync = async (cond: () => Promise<boolean>, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${ms} ms`);
    }
    await sleep(50);
  }
};

const connected = async (url: string): Promise<{ client: RtmfpClient; server: unknown }> => {
  const client = new RtmfpClient();
  const info = await withTimeout(client.connect(url), 15_000, `RTMFP connect ${url}`);
  return { client, server: info.server };
};

/** A client connected to `instance` and served by `name` (its onHandshake may send it elsewhere first). */
const servedBy = async (instance: Instance, name: string): Promise<RtmfpClient> => {
  for (let i = 0; i < 8; i++) {
    const { client, server } = await connected(instance.rtmfp());
    if (server === name) {
      return client;
    }
    client.close();
  }
  throw new Error(`no client served by ${name}`);
};

/** Collects the `groupMember` introductions a client receives. */
const introductions = (client: RtmfpClient): Set<string> => {
  const ids = new Set<string>();
  client.on('groupMember', (id: string) => ids.add(id));
  return ids;
};

describe('mesh: RTMFP load balancing, rendezvous and NetGroups across instances (real processes)', { timeout: 120_000 }, () => {
  const clients: RtmfpClient[] = [];
  const keep = (client: RtmfpClient): RtmfpClient => {
    clients.push(client);
    return client;
  };

  after(async () => {
    for (const client of clients) {
      client.close();
    }
    await stopAll();
  });

  describe('onHandshake (scenario 5)', () => {
    let lb: Instance;

    before(async () => {
      const meshLb = await freeTcpPort();
      lb = await startInstance('LB', { fixture: 'balancer', meshPort: meshLb, rtmfp: true });
      await startInstance('B1', { fixture: 'backend', targets: `127.0.0.1:${meshLb}`, rtmfp: true });
      await waitCount(lb, JOINED, 1);
      await startInstance('B2', { fixture: 'backend', targets: `127.0.0.1:${meshLb}`, rtmfp: true });
      await waitCount(lb, JOINED, 2);
    });

    it('redirects clients round-robin over mona.servers during the handshake', async () => {
      const served: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const { client, server } = await connected(lb.rtmfp());
        keep(client);
        served.push(server);
      }
      assert.ok(served.every((s) => s === 'B1' || s === 'B2'), `every client is served by a backend: ${served.join(', ')}`);
      // The seed's index walks mona.servers in connection order. (The test client sends its IHello
      // to the balancer again right after a Redirect, so one client may cost it two handshakes.)
      const sequence = [...lb.process.output.matchAll(/handshake redirected to (127\.0\.0\.1:\d+)/g)].map((m) => m[1]);
      assert.ok(sequence.length >= 3, sequence.join(' '));
      const [first, second] = sequence;
      assert.notEqual(first, second);
      sequence.forEach((address, i) => assert.equal(address, i % 2 === 0 ? first : second, `redirection ${i}`));
      const joined = [...lb.process.output.matchAll(/Connection established with (127\.0\.0\.1:\d+) server/g)].map((m) => m[1]);
      assert.deepEqual([first, second], joined, 'round-robin in connection order');
    });

    it('returns every server at once: the client keeps the first that answers', async () => {
      const { client, server } = await connected(lb.rtmfp('all'));
      keep(client);
      assert.ok(server === 'B1' || server === 'B2', `served by ${String(server)}`);
    });
  });

  describe('rendezvous and NetGroup sync (scenarios 6 and 7)', () => {
    let s1: Instance;
    const group = createHash('sha256').update('G:mesh-test').digest();
    const groupHex = group.toString('hex');

    before(async () => {
      s1 = await startInstance('S1', { fixture: 'groups', meshPort: await freeTcpPort(), rtmfp: true });
    });

    it('introduces members on different instances through virtual members, and lets them meet P2P', async () => {
      const peerA = keep((await connected(s1.rtmfp())).client);
      peerA.joinGroup(group);
      await untilAsync(async () => ((await peerA.call('members', null, groupHex))[0] as string[]).includes(peerA.peerId), 5000, 'A in the group on S1');
      // S2 joins a mesh where A is already in the group: S1's onServerConnection tells it.
      const s2 = await startInstance('S2', { fixture: 'groups', targets: `127.0.0.1:${s1.meshPort}`, rtmfp: true });
      await waitCount(s1, JOINED, 1);
      const peerB = keep((await connected(s2.rtmfp())).client);
      const membersOnS2 = async (): Promise<string[]> => (await peerB.call('members', null, groupHex))[0] as string[];
      await untilAsync(async () => (await membersOnS2()).includes(peerA.peerId), 5000, 'A as a virtual member on S2');
      const toB = introductions(peerB);
      peerB.joinGroup(group);
      await until(() => toB.has(peerA.peerId), 5000, 'B introduced to A (a member on S1)');

      // Rendezvous across instances: S2 does not know A, onRendezVousUnknown returns mona.servers.
      const met = once(peerA, 'peerConnected');
      await withTimeout(peerB.connectToPeer(peerA.peerId), 15_000, 'B reaches A through S2 then S1');
      const [who] = (await withTimeout(met, 5000, 'A sees B')) as [string];
      assert.equal(who, peerB.peerId);
      const message = once(peerA, 'peerMessage');
      peerB.sendToPeer(peerA.peerId, Buffer.from('hello from B'));
      const [, bytes] = (await withTimeout(message, 5000, 'P2P message')) as [string, Buffer];
      assert.equal(bytes.toString(), 'hello from B');

      // A newcomer on S1 is introduced to B, who lives on S2.
      const peerC = keep((await connected(s1.rtmfp())).client);
      const toC = introductions(peerC);
      peerC.joinGroup(group);
      await until(() => toC.has(peerB.peerId) && toC.has(peerA.peerId), 5000, 'C introduced to A and B');

      // B leaves: S1 releases its virtual member.
      const membersOnS1 = async (): Promise<string[]> => (await peerA.call('members', null, groupHex))[0] as string[];
      assert.ok((await membersOnS1()).includes(peerB.peerId));
      peerB.close();
      await untilAsync(async () => !(await membersOnS1()).includes(peerB.peerId), 8000, 'B released on S1');
    });
  });

  describe('CumulusServer-style scripts', () => {
    it('runs cumulus.servers, server.publicAddress, onHandshake with "again" and onRendezVousUnknown(peerId)', async () => {
      const meshCu1 = await freeTcpPort();
      const cu1 = await startInstance('CU1', { fixture: 'cumulus', meshPort: meshCu1, rtmfp: true });
      const cu2 = await startInstance('CU2', { fixture: 'cumulus', targets: `127.0.0.1:${meshCu1}`, rtmfp: true });
      await waitCount(cu2, new RegExp(`Target gotten : 127\\.0\\.0\\.1:${meshCu1}\\(127\\.0\\.0\\.1:${cu1.port} for clients\\)`), 1);
      await waitCount(cu2, /cumulus onHello CumulusServer/, 1);
      await waitCount(cu1, /cumulus onHello CumulusServer/, 1);

      const { client: x, server } = await connected(cu2.rtmfp());
      keep(x);
      assert.ok(server === 'CU1' || server === 'CU2', `served by ${String(server)}`);
      await waitCount(cu2, /handshake of 127\.0\.0\.1:\d+ redirected/, 1);
      assert.deepEqual((await x.call('servers'))[0], ['CumulusServer']);

      // Rendezvous across the two: a peer on CU2 asks CU2 for a peer that is on CU1.
      const onCu1 = keep(await servedBy(cu1, 'CU1'));
      const onCu2 = keep(await servedBy(cu2, 'CU2'));
      const met = once(onCu1, 'peerConnected');
      await withTimeout(onCu2.connectToPeer(onCu1.peerId), 15_000, 'rendezvous through onRendezVousUnknown(peerId)');
      await withTimeout(met, 5000, 'peer met');
    });
  });
});
