/** RPC arguments as MonaServer encodes them (mona-api.md §2.6), and the public settings of HELLO. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../../src/config/loadConfig.js';
import { parseTargets } from '../../../src/config/targets.js';
import { ConfigError } from '../../../src/errors.js';
import { decodeArgs, encodeArgs, payloadBytes } from '../../../src/mesh/meshArgs.js';
import { peerPublicAddress, proof, proofMatches, publicSettings } from '../../../src/mesh/meshHello.js';

/** What a value looks like after the trip: strings are bytes (Buffers), undefined is null. */
const normalized = (value: unknown): unknown => {
  if (typeof value === 'string') {
    return Buffer.from(value, 'utf8');
  }
  if (value === undefined) {
    return null;
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value);
  }
  if (Array.isArray(value)) {
    return value.map(normalized);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalized(v)]));
  }
  return value;
};

const words = fc.constantFrom('a', 'relay', 'é', 'video', '');
const leaf = fc.oneof(
  words,
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
  fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), fc.dictionary(words.filter((w) => w !== ''), leaf, { maxKeys: 4 }).map((d) => ({ ...d })));

describe('mesh RPC arguments', () => {
  it('decodes what it encodes; strings come back as bytes, repeated strings keep their references in step', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 8 }), (args) => {
        const decoded = decodeArgs(payloadBytes(encodeArgs(args)));
        assert.deepEqual(decoded, args.map(normalized));
      }),
      { numRuns: 400 },
    );
    const packet = Buffer.from([0xff, 0x00, 0xfe]);
    const args = ['a', packet, { k: 'a', j: 'a', p: 'relay' }, 'relay', 'a'];
    assert.deepEqual(decodeArgs(payloadBytes(encodeArgs(args))), args.map(normalized));
  });

  it('sends byte strings without copying them, as AMF3 strings', () => {
    const packet = Buffer.alloc(5000, 7);
    const payload = encodeArgs(['relay', 40, packet]);
    assert.ok(payload.parts.includes(packet), 'the packet is a part of its own');
    assert.equal(payload.length, payloadBytes(payload).length);
    const bytes = payloadBytes(payload);
    assert.equal(bytes.subarray(bytes.length - 5000 - 4, bytes.length - 5000).toString('hex'), '1106ce11', 'AMF3 string, U29 length 5000');
  });

  it('keeps non-integer numbers, booleans and nil in AMF0, integers in AMF3', () => {
    assert.equal(payloadBytes(encodeArgs([1.5, true, null, undefined, 7])).toString('hex'), `003ff8000000000000010105051104${'07'}`);
    assert.deepEqual(decodeArgs(payloadBytes(encodeArgs([2 ** 31]))), [2 ** 31], 'past 29 bits: an AMF3 double');
  });
});

describe('mesh HELLO settings', () => {
  it('carries public settings only', () => {
    const { config } = loadConfig({
      cwd: '/nonexistent',
      overrides: { publicHost: 'media.example.com', 'RTMFP.port': '1936', 'servers.secret': 'hush', 'servers.port': '1940', 'application.dir': '/srv/secret/place' },
    });
    const settings = publicSettings(config);
    assert.deepEqual(Object.fromEntries(settings), {
      publicHost: 'media.example.com',
      'RTMP.port': '1935',
      'RTMFP.port': '1936',
      'RTMFP.publicAddress': 'media.example.com:1936',
      'servers.port': '1940',
    });
    assert.ok(![...settings.values()].some((v) => v.includes('hush') || v.includes('/srv')));
  });

  it("finds a peer's public address per protocol, loopback replaced by where its link comes from", () => {
    assert.equal(peerPublicAddress({ 'RTMFP.port': '1935' }, 'RTMFP', '10.0.0.2'), '10.0.0.2:1935');
    assert.equal(peerPublicAddress({ 'RTMFP.port': '0' }, 'RTMFP', '10.0.0.2'), null, 'protocol disabled');
    assert.equal(peerPublicAddress({ 'RTMFP.port': '1935', publicHost: 'h.example' }, 'RTMFP', '10.0.0.2'), 'h.example:1935');
    assert.equal(peerPublicAddress({ 'RTMFP.port': '1935', 'RTMFP.publicAddress': 'h.example:2000' }, 'RTMFP', '10.0.0.2'), 'h.example:2000');
    assert.equal(peerPublicAddress({ 'RTMFP.port': '1935', publicHost: '127.0.0.1' }, 'RTMFP', '10.0.0.2'), '10.0.0.2:1935');
    assert.equal(peerPublicAddress({ 'RTMFP.port': '1935', publicHost: '127.0.0.1' }, 'RTMFP', '127.0.0.1'), '127.0.0.1:1935');
    assert.equal(peerPublicAddress({ 'RTMP.port': '1935' }, 'RTMP', '::1'), '[::1]:1935');
  });

  it('proves knowledge of the secret without sending it', () => {
    const p = proof('s3cret', 'target', 'n1', 'n2');
    assert.ok(!p.includes('s3cret'));
    assert.ok(proofMatches(p, proof('s3cret', 'target', 'n1', 'n2')));
    assert.ok(!proofMatches(p, proof('s3cret', 'initiator', 'n1', 'n2')), 'roles differ');
    assert.ok(!proofMatches(p, proof('other', 'target', 'n1', 'n2')));
    assert.ok(!proofMatches(p, undefined));
  });
});

describe('servers.targets', () => {
  it('parses host:port?key=value entries, names and IPv6 included', () => {
    assert.deepEqual(parseTargets(' 192.168.0.2:1936?type=master&x=1 ; ;mesh.example.com:1936;[::1]:7000'), [
      { host: '192.168.0.2', port: 1936, properties: { type: 'master', x: '1' }, address: '192.168.0.2:1936' },
      { host: 'mesh.example.com', port: 1936, properties: {}, address: 'mesh.example.com:1936' },
      { host: '::1', port: 7000, properties: {}, address: '[::1]:7000' },
    ]);
    for (const bad of ['nohost', ':1936', 'h:0', 'h:70000', '::1:80', 'h:12x']) {
      assert.throws(() => parseTargets(bad), ConfigError, bad);
    }
    assert.throws(() => loadConfig({ cwd: '/nonexistent', overrides: { 'servers.targets': 'x' } }), /servers\.targets: "x" is not valid/);
  });
});
