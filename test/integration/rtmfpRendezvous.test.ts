import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import type { Client } from '../../src/core/Client.js';
import type { Group } from '../../src/core/Group.js';
import { DefaultHooks, type HandshakeInfo } from '../../src/core/ServerHooks.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';

class Hooks extends DefaultHooks {
  readonly joins: string[] = [];
  readonly unjoins: string[] = [];
  unknownPeers: string[] = [];
  redirectTo: string[] = [];
  handshakes: HandshakeInfo[] = [];

  onJoinGroup(client: Client, group: Group): void {
    this.joins.push(`${client.id} ${group.id}`);
  }

  onUnjoinGroup(client: Client, group: Group): void {
    this.unjoins.push(`${client.id} ${group.id}`);
  }

  onRendezVousUnknown(_protocol: string, peerId: Buffer): string[] {
    this.unknownPeers.push(peerId.toString('hex'));
    return this.redirectTo;
  }

  onHandshake(info: HandshakeInfo): string[] {
    this.handshakes.push(info);
    return info.path === '/elsewhere' ? this.redirectTo : info.path === '/self' ? ['myself'] : [];
  }
}

for (const workers of ['0', '2']) {describe(`RTMFP rendezvous, redirection and NetGroups, RTMFP.workers=${workers}`, { timeout: 90_000 }, () => {
  const hooks = new Hooks();
  let one: RtmfpTestServer;
  let two: RtmfpTestServer;

  before(async () => {
    one = await startRtmfpServer({ 'RTMFP.workers': workers }, hooks);
    two = await startRtmfpServer({ 'RTMFP.workers': workers });
  });

  after(async () => {
    await one.server.stop();
    await two.server.stop();
  });

  it('introduces a peer: the initiator gets a Redirect, the target a forwarded IHello, then they talk P2P', async () => {
    const a = new RtmfpClient();
    const b = new RtmfpClient();
    await a.connect(one.rtmfp('live'));
    await b.connect(one.rtmfp('live'));
    await until(() => one.server.rtmfp!.peers.has(b.peerId), 3000, 'b ready for rendezvous');
    const forwarded = new Promise<string>((resolve) => b.once('forwardedHello', resolve));
    const bSeesA = new Promise<string>((resolve) => b.once('peerConnected', resolve));
    await a.connectToPeer(b.peerId);
    assert.equal(await forwarded, `127.0.0.1:${a.port}`, 'B learnt where A is');
    assert.equal(await bSeesA, a.peerId, 'B knows A by its peer ID');
    const received = new Promise<Buffer>((resolve) => b.once('peerMessage', (_peer: string, m: Buffer) => resolve(m)));
    a.sendToPeer(b.peerId, Buffer.from('hello over P2P'));
    assert.equal((await received).toString(), 'hello over P2P');
    a.close();
    b.close();
  });

  it('asks onRendezVousUnknown about unknown peers and redirects to what it returns', async () => {
    const a = new RtmfpClient();
    await a.connect(one.rtmfp('live'));
    const b = new RtmfpClient();
    await b.connect(two.rtmfp('live'));
    await until(() => two.server.rtmfp!.peers.has(b.peerId), 3000, 'b ready on server two');
    hooks.redirectTo = [`127.0.0.1:${two.port}`];
    await a.connectToPeer(b.peerId);
    assert.ok(hooks.unknownPeers.includes(b.peerId));
    const received = new Promise<Buffer>((resolve) => b.once('peerMessage', (_p: string, m: Buffer) => resolve(m)));
    a.sendToPeer(b.peerId, Buffer.from('across servers'));
    assert.equal((await received).toString(), 'across servers');
    a.close();
    b.close();
  });

  it('redirects a handshake to the addresses onHandshake returns, and "myself" means this server', async () => {
    hooks.redirectTo = [`127.0.0.1:${two.port}`];
    const client = new RtmfpClient();
    const info = await client.connect(one.rtmfp('elsewhere?x=1'));
    assert.equal(info.code, 'NetConnection.Connect.Success');
    assert.ok([...two.server.core.clients.values()].some((c) => c.id === client.peerId), 'connected to server two');
    assert.ok(![...one.server.core.clients.values()].some((c) => c.id === client.peerId), 'not to server one');
    const seen = hooks.handshakes.find((h) => h.path === '/elsewhere')!;
    assert.equal(seen.protocol, 'RTMFP');
    assert.deepEqual(seen.properties, { x: '1' });
    assert.equal(seen.attempts, 1);
    client.close();
    const self = new RtmfpClient();
    await self.connect(one.rtmfp('self'));
    assert.ok([...one.server.core.clients.values()].some((c) => c.path === '/self'));
    self.close();
  });

  it('introduces NetGroup members to their ring neighbours and fires the group hooks', async () => {
    const groupId = Buffer.alloc(32, 7);
    const clients = [0, 1, 2, 3].map(() => new RtmfpClient());
    const known = clients.map(() => new Set<string>());
    for (const [i, c] of clients.entries()) {
      c.on('groupMember', (id: string) => known[i].add(id));
      await c.connect(one.rtmfp('live'));
      c.joinGroup(groupId);
      await until(() => one.server.core.groups.get(groupId.toString('hex'))?.size === i + 1, 3000, `member ${i} joined`);
    }
    await until(() => known.every((k) => k.size === 3), 5000, 'everyone introduced');
    clients.forEach((c, i) => {
      const others = clients.filter((o) => o !== c).map((o) => o.peerId).sort();
      assert.deepEqual([...known[i]].sort(), others, `member ${i} knows the 3 others`);
    });
    assert.equal(hooks.joins.filter((j) => j.endsWith(groupId.toString('hex'))).length, 4);
    clients[0].close();
    await until(() => one.server.core.groups.get(groupId.toString('hex'))?.size === 3, 3000, 'leave on close');
    assert.equal(hooks.unjoins.length, 1);
    // A virtual member (a peer on another server) is introduced to newcomers too.
    const virtualPeer = Buffer.alloc(32, 9);
    one.server.core.joinGroup(groupId, virtualPeer, null);
    const late = new RtmfpClient();
    const lateKnown = new Set<string>();
    late.on('groupMember', (id: string) => lateKnown.add(id));
    await late.connect(one.rtmfp('live'));
    late.joinGroup(groupId);
    await until(() => lateKnown.has(virtualPeer.toString('hex')), 3000, 'virtual member introduced');
    for (const c of [...clients, late]) {
      c.close();
    }
  });
});}
