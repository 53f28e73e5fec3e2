import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIPAddress, createSocketAddress, dumpLines, IPAddress } from '../../../src/scripting/sockets/addressObjects.js';
import { readAddress } from '../../../src/scripting/sockets/SocketAddress.js';
import { harness, logs } from './kit.js';

const waitFor = async (check: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error('timed out');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('mona:createIPAddress / createSocketAddress / dump (MonaServer LUAIPAddress, LUASocketAddress, LUAInvoker)', () => {
  it('classifies IPs as MonaServer IPAddress does', () => {
    const ip = (s: string): IPAddress => IPAddress.parse(s);
    assert.equal(ip('localhost').value, '127.0.0.1');
    assert.ok(ip('127.0.0.5').isLoopback && ip('::1').isLoopback && !ip('::2').isLoopback);
    assert.ok(ip('0.0.0.0').isWildcard && ip('::').isWildcard && ip('::').isIPv6);
    assert.ok(ip('255.255.255.255').isBroadcast && ip('10.0.0.255').isAnyBroadcast && !ip('10.0.0.255').isBroadcast);
    assert.ok(ip('224.0.0.1').isMulticast && ip('224.0.0.1').isWellKnownMC && ip('ff02::1').isMulticast && ip('ff02::1').isLinkLocalMC);
    assert.ok(ip('10.1.2.3').isSiteLocal && ip('172.16.0.1').isSiteLocal && ip('172.31.255.255').isSiteLocal && !ip('172.32.0.1').isSiteLocal);
    assert.ok(ip('192.168.0.1').isSiteLocal && ip('169.254.1.1').isLinkLocal && ip('fe80::1').isLinkLocal && ip('fec0::1').isSiteLocal);
    assert.ok(ip('8.8.8.8').isUnicast && !ip('8.8.8.8').isLocal && ip('192.168.0.1').isLocal && ip('0.0.0.0').isLocal);
    assert.ok(ip('::ffff:1.2.3.4').isIPv4Mapped && !ip('::ffff:1.2.3.4').isIPv4Compatible && ip('::1.2.3.4').isIPv4Compatible);
    assert.ok(ip('239.255.0.1').isSiteLocalMC && ip('239.192.0.1').isOrgLocalMC && ip('224.0.1.1').isGlobalMC && ip('ff0f::1').isGlobalMC && !ip('ff0e::1').isGlobalMC, 'MonaServer tests 0xFF0F');
    assert.equal(ip('2001:db8:0:0:1:0:0:1').value, '2001:db8::1:0:0:1');
    assert.equal(ip('[::ffff:1.2.3.4]').value, '::ffff:102:304');
    assert.ok(ip('1.2.3.4').compare(ip('::1')) < 0, 'IPv4 before IPv6');
    assert.ok(ip('1.2.3.4').compare(ip('1.2.3.10')) < 0);
    assert.throws(() => ip('nowhere'), /Invalid ip nowhere/);
  });

  it('reads every argument form of LUASocketAddress::Read and LUAIPAddress::Read', () => {
    assert.equal(createSocketAddress([], false).value, '0.0.0.0:0');
    assert.equal(createSocketAddress([1935], false).value, '0.0.0.0:1935');
    assert.equal(createSocketAddress(['127.0.0.1:80'], false).value, '127.0.0.1:80');
    assert.equal(createSocketAddress(['::1', '5000'], false).value, '[::1]:5000');
    assert.equal(createSocketAddress(['[::1]:5000'], false).value, '[::1]:5000');
    const ip = createIPAddress(['10.0.0.1'], false);
    assert.equal(createSocketAddress([ip, 99], false).value, '10.0.0.1:99');
    assert.equal(createSocketAddress([ip], false).value, '10.0.0.1:0');
    assert.equal(createSocketAddress([{ address: '192.168.1.2:1935' }], false).port, 1935, 'a mesh server');
    const s = createSocketAddress(['1.2.3.4:5'], false);
    assert.ok(createSocketAddress([s], false).equals(s));
    assert.equal(createIPAddress([s], false).value, '1.2.3.4');
    assert.equal(createIPAddress([], false).value, '0.0.0.0');
    assert.deepEqual(readAddress([s], ''), { host: '1.2.3.4', port: 5 });
    assert.deepEqual(readAddress([ip, 7], ''), { host: '10.0.0.1', port: 7 });
    assert.throws(() => createSocketAddress(['nowhere'], false), /Missing port number in nowhere/);
    assert.throws(() => createSocketAddress(['example.org:80'], false), /Invalid ip example.org/);
    assert.throws(() => createSocketAddress(['1.2.3.4:99999'], false), /invalid port 99999/);
    assert.throws(() => createSocketAddress([true], false), /No valid SocketAddress available to read/);
    assert.throws(() => createIPAddress([12], false), /No valid IPAddress available to read/);
    assert.equal(createSocketAddress(['localhost', 80], true).value, '127.0.0.1:80');
    assert.throws(() => createIPAddress(['no-such-host.invalid'], true), /Host no-such-host.invalid not/);
  });

  it('dumps as MonaServer Util::Dump, with the words after the name as header', () => {
    const text = dumpLines('RTMFP from client', Buffer.from('hello\0world, and more data'), 20);
    const lines = text.split('\n');
    assert.equal(lines[0], 'RTMFP=> from client');
    assert.equal(lines[1], '\t68 65 6C 6C 6F 00 77 6F 72 6C 64 2C 20 61 6E 64  hello.world, and');
    assert.equal(lines[2], `\t20 6D 6F 72 ${' '.repeat(36)} ${' mor'}`);
    assert.equal(lines.length, 3);
  });

  it('gives Lua apps address objects: fields, copies, comparisons, sockets, dump, errors at the line', async () => {
    const h = await harness({
      'www/main.lua': [
        'function onConnection(client)',
        '  function client:forms()',
        '    local ip = mona:createIPAddress("192.168.1.10")',
        '    local v6 = mona:createIPAddress("::1")',
        '    local sa = mona:createSocketAddress("127.0.0.1:1935")',
        '    local sb = mona:createSocketAddress("127.0.0.1", 1935)',
        '    local sc = mona.createSocketAddress(sa)',
        '    local sd = mona:createSocketAddress(ip, "80")',
        '    local se = mona:createSocketAddress(8080)',
        '    local sf = mona:createSocketAddressWithDNS("localhost", 5)',
        '    local copy = sa()',
        '    return { ip.value, ip.isSiteLocal, ip.isLocal, ip.isIPv6, v6.isIPv6, v6.isLoopback, tostring(ip),',
        '      sa.value, sa.port, sa.host.value, sa.host.isLoopback, sd.value, se.value, se.host.isWildcard, sf.value,',
        '      sa == sb, sa == sc, sa == copy, sa ~= sd, sa < sd, ip < v6, mona:createIPAddress(sa) == sa.host,',
        '      mona:createIPAddress().value, mona:createSocketAddress().value, mona:createIPAddress(ip) == ip }',
        '  end',
        '  function client:bad(v)',
        '    local ok, err = pcall(mona.createIPAddress, mona, v)',
        '    local ok2, err2 = pcall(mona.createSocketAddress, mona, "nowhere")',
        '    return { ok, err, ok2, err2 }',
        '  end',
        '  function client:raise() local a = mona:createSocketAddress({}) return a end',
        '  function client:sockets()',
        '    local u1, u2 = mona:createUDPSocket(), mona:createUDPSocket()',
        '    function u1:onPacket(data, address) got = data end',
        '    local bound = u1:bind(mona:createSocketAddress(mona:createIPAddress("127.0.0.1"), 0))',
        '    keep = { u1, u2 }',
        '    return bound',
        '  end',
        '  function client:send()',
        '    local to = mona:createSocketAddress(keep[1].address)',
        '    return keep[2]:send("ping", to)',
        '  end',
        '  function client:got() return got end',
        '  function client:dump()',
        '    mona:dump("LUA from script", "ab\\0cd")',
        '    mona:dump("lonely")',
        '  end',
        'end',
      ].join('\n'),
    });
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'forms', []), [[
      '192.168.1.10', true, true, false, true, true, '192.168.1.10',
      '127.0.0.1:1935', 1935, '127.0.0.1', true, '192.168.1.10:80', '0.0.0.0:8080', true, '127.0.0.1:5',
      true, true, true, true, true, true, true,
      '0.0.0.0', '0.0.0.0:0', true,
    ]]);
    const [[ok, err, ok2, err2]] = (await h.core.call(c, 'bad', ['300.1.1.1'])) as [[boolean, string, boolean, string]];
    assert.equal(ok, false);
    assert.match(err, /main\.lua:\d+: Invalid ip 300\.1\.1\.1/);
    assert.equal(ok2, false);
    assert.match(err2, /Missing port number in nowhere/);
    await assert.rejects(h.core.call(c, 'raise', []), /main\.lua:22: No valid SocketAddress available to read/);
    assert.deepEqual(await h.core.call(c, 'sockets', []), [true]);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await h.core.call(c, 'send', []), [true]);
    let got: unknown = null;
    for (let i = 0; i < 100 && (got === null || got === undefined); i++) {
      [got] = await h.core.call(c, 'got', []);
      if (got === null || got === undefined) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal(String(got), 'ping');
    const before = logs.length;
    await h.core.call(c, 'dump', []);
    const dumped = logs.slice(before).join('\n');
    assert.match(dumped, /main\.lua:\d+: LUA=> from script\n\t61 62 00 63 64 /);
    assert.match(dumped, /main\.lua:\d+: debugging mona:dump\(lonely,\.\.\.\) not removed/);
    assert.ok((await h.connect(h.client())) !== undefined, 'the server goes on');
    h.host.stop();
  });

  it('gives JS apps the same objects through this.mona', async () => {
    const h = await harness({
      'www/main.js': `
        export function onConnection(client) {
          const mona = this.mona;
          client.forms = () => {
            const ip = mona.createIPAddress('192.168.1.10');
            const sa = mona.createSocketAddress('127.0.0.1:1935');
            const sb = mona.createSocketAddress('127.0.0.1', 1935);
            const sd = mona.createSocketAddress(ip, 80);
            const sf = mona.createSocketAddressWithDNS('localhost', '5');
            return [ip.value, ip.isSiteLocal, String(sa), sa.port, sa.host.value, sa.host.isLoopback, sd.value, sf.value,
              sa.equals(sb), sa.compare(sd) < 0, mona.createSocketAddress(8080).value, mona.createIPAddress(sa).equals(sa.host)];
          };
          client.bad = () => { try { mona.createIPAddress('nope'); return 'no error'; } catch (e) { return e.message; } };
          client.udp = () => {
            const u = mona.createUDPSocket();
            return u.bind(mona.createSocketAddress(mona.createIPAddress('127.0.0.1'), 0));
          };
          client.dump = () => { mona.dump('JS packet', Buffer.from('xyz')); return 1; };
        }`,
    });
    const c = h.client();
    await h.connect(c);
    assert.deepEqual(await h.core.call(c, 'forms', []), [[
      '192.168.1.10', true, '127.0.0.1:1935', 1935, '127.0.0.1', true, '192.168.1.10:80', '127.0.0.1:5', true, true, '0.0.0.0:8080', true,
    ]]);
    assert.deepEqual(await h.core.call(c, 'bad', []), ['Invalid ip nope']);
    assert.deepEqual(await h.core.call(c, 'udp', []), [true]);
    const before = logs.length;
    await h.core.call(c, 'dump', []);
    await waitFor(() => logs.slice(before).some((l) => l.includes('JS=> packet')));
    assert.ok(logs.slice(before).some((l) => l.includes('\t78 79 7A ')));
    h.host.stop();
  });
});
