import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, parseAddress, readAddress } from '../../../src/scripting/sockets/SocketAddress.js';

describe('script socket addresses (MonaServer LUASocketAddress::Read forms)', () => {
  it('reads a port alone, "host:port", a host and a port, "[v6]:port", and an object with an address', () => {
    assert.deepEqual(readAddress([1234], '0.0.0.0'), { host: '0.0.0.0', port: 1234 });
    assert.deepEqual(readAddress([1234], '127.0.0.1'), { host: '127.0.0.1', port: 1234 });
    assert.deepEqual(readAddress(['127.0.0.1:80'], ''), { host: '127.0.0.1', port: 80 });
    assert.deepEqual(readAddress(['localhost', 8080], ''), { host: 'localhost', port: 8080 });
    assert.deepEqual(readAddress(['10.0.0.1', '99'], ''), { host: '10.0.0.1', port: 99 });
    assert.deepEqual(readAddress(['[::1]:5000'], ''), { host: '::1', port: 5000 });
    assert.deepEqual(readAddress(['::1', 5000], ''), { host: '::1', port: 5000 });
    assert.deepEqual(readAddress([{ address: '192.168.1.2:1935' }], ''), { host: '192.168.1.2', port: 1935 });
  });

  it('refuses what has no port, a bad port, or is no address', () => {
    assert.throws(() => parseAddress('nowhere'), /missing port in address "nowhere"/);
    assert.throws(() => parseAddress('::1'), /missing port/);
    assert.throws(() => parseAddress('host:70000'), /invalid port 70000/);
    assert.throws(() => readAddress([-1], ''), /invalid port -1/);
    assert.throws(() => readAddress([1.5], ''), /invalid port 1.5/);
    assert.throws(() => readAddress([':80'], ''), /missing port/);
    assert.throws(() => readAddress([true], ''), /No valid SocketAddress available to read/);
    assert.throws(() => readAddress([], ''), /No valid SocketAddress/);
  });

  it('writes "ip:port", IPv6 in brackets, IPv4-mapped addresses as IPv4', () => {
    assert.equal(formatAddress('127.0.0.1', 5), '127.0.0.1:5');
    assert.equal(formatAddress('::1', 5), '[::1]:5');
    assert.equal(formatAddress('::ffff:10.1.2.3', 7), '10.1.2.3:7');
  });
});
