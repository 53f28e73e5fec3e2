import assert from 'node:assert/strict';
import { type Socket as UdpPeer, createSocket } from 'node:dgram';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server as NetServer, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import type { Server } from '../../src/Server.js';
import { tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { logLines, sleep, startInProcess, waitForLog } from '../helpers/inProcess.js';

/** A file written with an mtime in the future, so a rewrite is always seen as a change. */
const write = (file: string, content: string): void => {
  writeFileSync(file, content);
  const later = new Date(Date.now() + 10_000 + Math.random() * 10_000);
  utimesSync(file, later, later);
};

// The root app: a TCP server whose version shows in what it sends (for the hot-reload test).
const ROOT = (version: number): string => `
server = mona:createTCPServer()
function server:onConnection(client)
  function client:onData(data) self:send("v${version}:" .. data) end
  function client:onDisconnection() NOTE("root v${version} connection closed by its peer") end
end
server:start("127.0.0.1", 0)
function onConnection(client)
  function client:rootServer() return server.address, server.running end
end
`;

// A line protocol: onData consumes up to the last newline; the rest comes again with the next bytes.
const LINES = `
seen = {}
server = mona:createTCPServer()
function server:onConnection(client)
  last = client
  function client:onData(data)
    seen[#seen + 1] = data
    local last = 0
    for i = #data, 1, -1 do
      if data:sub(i, i) == "\\n" then last = i break end
    end
    for line in data:sub(1, last):gmatch("([^\\n]*)\\n") do
      if line == "boom" then error("boom on purpose") end
      if line == "loop" then while true do end end
      self:send("echo:" .. line .. "\\n")
    end
    return last
  end
  function client:onDisconnection(peer, err)
    NOTE("lines: ", peer, " disconnected: ", tostring(err))
  end
end
server:start("127.0.0.1", 0)
function onConnection(client)
  function client:port() return tonumber(server.address:match(":(%d+)$")) end
  function client:seen() local s = seen seen = {} return s end
  function client:startOn(port)
    busy = mona:createTCPServer()
    return busy:start("127.0.0.1", port)
  end
  function client:busyRunning() return busy.running, busy.address end
  function client:flood()
    local chunk = string.rep("x", 65536)
    for i = 1, 1000 do
      local err = last:send(chunk)
      if err then return i, err end
    end
  end
end
`;

// A TCP client that relays what it receives to the RTMP client.
const RELAY = `
function onConnection(client)
  function client:relay(port)
    local socket = mona:createTCPClient()
    client.socket = socket
    function socket:onData(data) client.writer:writeInvocation("relayed", data) end
    function socket:onDisconnection(peer, err) client.writer:writeInvocation("relayClosed", peer, err) end
    local ok = socket:connect("127.0.0.1", port)
    socket:send("hello from lua\\n")
    return ok
  end
  function client:state()
    local s = client.socket
    return s.connected, s.address, s.peerAddress, s.idleTime
  end
  function client:bad() local ok = mona:createTCPClient():connect("nowhere") return ok end
end
`;

const UDP = `
udp = mona:createUDPSocket()
function udp:onPacket(data, address) self:send("echo:" .. data, address) end
udp:bind("127.0.0.1", 0)
function onConnection(client)
  function client:udpAddress() return udp.address end
  function client:udpSend(port)
    local u = mona:createUDPSocket()
    function u:onPacket(data, address) client.writer:writeInvocation("udpReply", data, address, u.peerAddress) end
    u:connect("127.0.0.1", port)
    u:send("hi")
    return u.peerAddress
  end
end
`;

const JS = `
export function onConnection(client) {
  const mona = this.mona;
  client.echo = () => {
    const server = mona.createTCPServer();
    server.onConnection = (c) => {
      c.onData = function (data) {
        const end = data.lastIndexOf(10) + 1;
        if (end > 0) this.send('js:' + data.subarray(0, end).toString());
        return end;
      };
    };
    server.start('127.0.0.1', 0);
    client.server = server;
    return true;
  };
  client.serverAddress = () => client.server.address;
}
`;

/** A loopback TCP connection of the test, collecting what it receives. */
class Peer {
  readonly socket: Socket;
  text = '';
  closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
  }

  async opened(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    return this;
  }

  async until(text: string, ms = 5000): Promise<void> {
    await withTimeout((async () => { while (!this.text.includes(text)) { await sleep(10); } })(), ms, `"${text}" (got "${this.text}")`);
  }

  async write(text: string): Promise<void> {
    this.socket.write(text);
    await sleep(80); // separate TCP segments: onData sees each one
  }
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });

describe('script sockets: mona:createTCPServer, createTCPClient, createUDPSocket', { timeout: 120_000 }, () => {
  let dir: string;
  let server: Server;
  let url: (p: string) => string;
  let rtmp: RtmpClient;
  let stopped = false;

  const portOf = (address: unknown): number => Number(/:(\d+)$/.exec(String(address))![1]);

  before(async () => {
    dir = tempDir('nimbus-sockets-');
    for (const [path, code] of [['', ROOT(1)], ['lines', LINES], ['relay', RELAY], ['udp', UDP]]) {
      mkdirSync(join(dir, 'www', path), { recursive: true });
      write(join(dir, 'www', path, 'main.lua'), code);
    }
    mkdirSync(join(dir, 'www/js'), { recursive: true });
    write(join(dir, 'www/js/main.mjs'), JS);
    ({ server, url } = await startInProcess({ 'application.dir': dir, 'application.timeout': '0.5', 'application.socketBuffer': '65536' }));
    rtmp = new RtmpClient();
    await rtmp.connect(url('lines'));
  });

  after(async () => {
    rtmp.close();
    if (!stopped) {
      await server.stop();
    }
  });

  it('serves a line protocol: onData consumes up to the last newline, the rest comes again with the next bytes', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    const peer = await new Peer(port).opened();
    await rtmp.call('seen');
    await peer.write('hel');
    await peer.write('lo\nwor');
    await peer.write('ld\n');
    await peer.until('echo:world\n');
    assert.equal(peer.text, 'echo:hello\necho:world\n');
    // MonaServer's loop: the bytes left after a partial consumption are offered again at once.
    assert.deepEqual(await rtmp.call('seen'), [['hel', 'hello\nwor', 'wor', 'world\n']]);
    peer.socket.end();
    await peer.closed;
    await waitForLog(/lines: 127\.0\.0\.1:\d+ disconnected: nil/);
  });

  it('closes a connection whose onData fails, with the script error logged at its file:line; the server goes on', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    const bystander = await new Peer(port).opened();
    const peer = await new Peer(port).opened();
    await peer.write('boom\n');
    await withTimeout(peer.closed, 5000, 'connection closed after the error');
    const line = await waitForLog(/3 \[script\] app \/lines: TCP connection from 127\.0\.0\.1:\d+ onData: www\/lines\/main\.lua:\d+: boom on purpose/);
    assert.match(line, /main\.lua:13: /);
    await waitForLog(/lines: 127\.0\.0\.1:\d+ disconnected: www\/lines\/main\.lua:13: boom on purpose/);

    const runaway = await new Peer(port).opened();
    await runaway.write('loop\n');
    await withTimeout(runaway.closed, 5000, 'connection closed after the time budget');
    await waitForLog(/app \/lines onData: time budget of 500 ms exceeded \(application\.timeout\): TCP connection from 127\.0\.0\.1:\d+ \(connection closed\)/);

    await bystander.write('still here\n');
    await bystander.until('echo:still here\n');
    assert.deepEqual(await rtmp.call('port'), [port], 'the app answers RPCs');
    bystander.socket.destroy();
  });

  it('closes a connection that sends more than application.socketBuffer bytes onData never consumes', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    const flooder = await new Peer(port).opened();
    flooder.socket.write(Buffer.alloc(100_000, 0x61)); // no newline: never consumed
    await withTimeout(flooder.closed, 5000, 'flooder closed');
    await waitForLog(/app \/lines: TCP connection from 127\.0\.0\.1:\d+: more than 65536 bytes received and not consumed by onData \(application\.socketBuffer\), connection closed/);
    await waitForLog(/lines: 127\.0\.0\.1:\d+ disconnected: more than 65536 bytes/);
    const after = await new Peer(port).opened();
    await after.write('ok\n');
    await after.until('echo:ok\n');
    after.socket.destroy();
  });

  it('closes a connection whose peer does not read once more than application.socketBuffer bytes wait to be sent', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    const sleeper = await new Peer(port).opened();
    sleeper.socket.pause();
    await sleep(50);
    const [count, error] = await rtmp.call('flood');
    assert.ok(typeof count === 'number' && count > 1, `sent ${String(count)} chunks first`);
    assert.equal(error, 'more than 65536 bytes queued to send to a peer that does not read (application.socketBuffer)');
    await waitForLog(/app \/lines: TCP connection from 127\.0\.0\.1:\d+: more than 65536 bytes queued to send/);
    sleeper.socket.resume();
    await withTimeout(sleeper.closed, 5000, 'the sleeper closed');
  });

  it('logs a TCP server that cannot listen (address in use): running turns false, the app goes on', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    assert.deepEqual(await rtmp.call('startOn', null, port), [true]);
    await waitForLog(new RegExp(`app /lines: TCP server 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`));
    assert.deepEqual(await rtmp.call('busyRunning'), [false, null]);
    assert.deepEqual(await rtmp.call('port'), [port]);
  });

  it('dials a TCP server of the test and relays what it gets to the RTMP client through writer:writeInvocation', async () => {
    const got: string[] = [];
    let remote: Socket | null = null;
    const tcp: NetServer = createServer((socket) => {
      remote = socket;
      socket.once('data', (d) => {
        got.push(d.toString());
        socket.write('part one;');
        setTimeout(() => socket.end('part two'), 100);
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const tcpPort = (tcp.address() as AddressInfo).port;
    const client = new RtmpClient();
    try {
      await client.connect(url('relay'));
      const invocations: Array<[string, unknown[]]> = [];
      client.on('invoke', (name: string, args: unknown[]) => invocations.push([name, args]));
      assert.deepEqual(await client.call('relay', null, tcpPort), [true]);
      await withTimeout((async () => { while (!invocations.some(([n]) => n === 'relayClosed')) { await sleep(10); } })(), 5000, 'relayClosed');
      assert.deepEqual(got, ['hello from lua\n']);
      const relayed = invocations.filter(([n]) => n === 'relayed').map(([, a]) => String(a[0])).join('');
      assert.equal(relayed, 'part one;part two');
      const closed = invocations.find(([n]) => n === 'relayClosed')!;
      assert.deepEqual(closed[1], [`127.0.0.1:${tcpPort}`, null], 'no error for an orderly close');
      const [connected, address, peerAddress] = await client.call('state');
      assert.equal(connected, false);
      assert.equal(address, null);
      assert.equal(peerAddress, null);
      assert.ok(remote !== null);
      // A bad address: false, and the error logged at the script's line.
      assert.deepEqual(await client.call('bad'), [false]);
      await waitForLog(/app \/relay: www\/relay\/main\.lua:16: missing port in address "nowhere"/);
    } finally {
      client.close();
      tcp.close();
    }
  });

  it('reports a refused connection in onDisconnection with the error', async () => {
    const tcp = createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const closedPort = (tcp.address() as AddressInfo).port;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const client = new RtmpClient();
    await client.connect(url('relay'));
    const closed = new Promise<unknown[]>((resolve) => client.on('invoke', (name: string, args: unknown[]) => name === 'relayClosed' && resolve(args)));
    assert.deepEqual(await client.call('relay', null, closedPort), [true]);
    const [peer, error] = await withTimeout(closed, 5000, 'relayClosed');
    assert.equal(peer, `127.0.0.1:${closedPort}`);
    assert.match(String(error), /ECONNREFUSED/);
    client.close();
  });

  it('echoes UDP datagrams (onPacket, send to an address) and sends from a connected UDP socket', async () => {
    const client = new RtmpClient();
    await client.connect(url('udp'));
    const [address] = await client.call('udpAddress');
    const udpPort = portOf(address);
    const peer: UdpPeer = createSocket('udp4');
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    const reply = new Promise<[string, string]>((resolve) => peer.once('message', (m, r) => resolve([m.toString(), `${r.address}:${r.port}`])));
    peer.send('ping', udpPort, '127.0.0.1');
    assert.deepEqual(await withTimeout(reply, 5000, 'udp echo'), ['echo:ping', `127.0.0.1:${udpPort}`]);

    // A connected Lua socket: send(data) without an address; the answer comes back in onPacket.
    const peerPort = peer.address().port;
    const heard = new Promise<string>((resolve) => peer.once('message', (m, r) => {
      peer.send('pong', r.port, r.address);
      resolve(m.toString());
    }));
    const udpReply = new Promise<unknown[]>((resolve) => client.on('invoke', (name: string, args: unknown[]) => name === 'udpReply' && resolve(args)));
    assert.deepEqual(await client.call('udpSend', null, peerPort), [`127.0.0.1:${peerPort}`]);
    assert.equal(await withTimeout(heard, 5000, 'udp from the connected socket'), 'hi');
    assert.deepEqual(await withTimeout(udpReply, 5000, 'udpReply'), ['pong', `127.0.0.1:${peerPort}`, `127.0.0.1:${peerPort}`]);
    peer.close();
    client.close();
  });

  it('gives JS apps the same sockets (this.mona.createTCPServer, onData returning the bytes consumed)', async () => {
    const client = new RtmpClient();
    await client.connect(url('js'));
    assert.deepEqual(await client.call('echo'), [true]);
    await sleep(50);
    const [address] = await client.call('serverAddress');
    const peer = await new Peer(portOf(address)).opened();
    await peer.write('a');
    await peer.write('b\nc');
    await peer.write('\n');
    await peer.until('js:c\n');
    assert.equal(peer.text, 'js:ab\njs:c\n');
    peer.socket.destroy();
    client.close();
  });

  it('closes the sockets of an app whose main.lua changed, without calling the script, and the new version opens its own', async () => {
    const root = new RtmpClient();
    await root.connect(url(''));
    const [first, running] = await root.call('rootServer');
    assert.equal(running, true);
    const oldPort = portOf(first);
    const peer = await new Peer(oldPort).opened();
    await peer.write('x');
    await peer.until('v1:x');
    const before = logLines.length;
    write(join(dir, 'www/main.lua'), ROOT(2));
    await withTimeout(peer.closed, 10_000, 'the old version\'s connection closed at reload');
    assert.ok(await refused(oldPort), 'the old server no longer listens');
    await sleep(100);
    const [second] = await root.call('rootServer');
    assert.notEqual(portOf(second), oldPort);
    const fresh = await new Peer(portOf(second)).opened();
    await fresh.write('y');
    await fresh.until('v2:y');
    fresh.socket.destroy();
    assert.ok(!logLines.slice(before).some((l) => l.includes('root v1 connection closed')), 'no script event at app stop');
    root.close();
  });

  it('closes every socket when the server stops', async () => {
    const [port] = (await rtmp.call('port')) as [number];
    const peer = await new Peer(port).opened();
    const udp = new RtmpClient();
    await udp.connect(url('udp'));
    const udpPort = portOf((await udp.call('udpAddress'))[0]);
    udp.close();
    rtmp.close();
    stopped = true;
    await server.stop();
    await withTimeout(peer.closed, 5000, 'connection closed at server stop');
    assert.ok(await refused(port), 'the script server no longer listens');
    // The script's UDP port is free again.
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(udpPort, '127.0.0.1', resolve);
    });
    again.close();
  });
});
