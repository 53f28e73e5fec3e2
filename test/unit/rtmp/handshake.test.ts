import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ProtocolError } from '../../../src/errors.js';
import {
  findDigest, HANDSHAKE_SIZE, RtmpClientHandshake, RtmpServerHandshake,
} from '../../../src/protocols/rtmp/RtmpHandshake.js';
import type { HandshakeStep } from '../../../src/protocols/rtmp/RtmpHandshake.js';

const PLAYER_KEY = Buffer.from('Genuine Adobe Flash Player 001', 'latin1');

/** Feed `data` in pieces of the given sizes (cycled), collecting what the machine answers. */
function feed(
  machine: { push(data: Buffer): HandshakeStep },
  data: Buffer,
  sizes: number[] = [data.length],
): { sent: Buffer; done: boolean; rest: Buffer } {
  const sent: Buffer[] = [];
  const rest: Buffer[] = [];
  let done = false;
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]);
    const step = machine.push(data.subarray(offset, offset + n));
    offset += n;
    if (step.send !== null) {
      sent.push(step.send);
    }
    if (step.rest !== null) {
      assert.ok(step.done, 'rest only once done');
      rest.push(step.rest);
    }
    done ||= step.done;
  }
  return { sent: Buffer.concat(sent), done, rest: Buffer.concat(rest) };
}

/** A C1 with a valid digest in scheme `base` (8 or 772), built independently of the module. */
function digestC1(base: number): Buffer {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 0);
  c1.set([9, 0, 124, 2], 4);
  const offset = ((c1[base] + c1[base + 1] + c1[base + 2] + c1[base + 3]) % 728) + base + 4;
  const mac = createHmac('sha256', PLAYER_KEY)
    .update(c1.subarray(0, offset))
    .update(c1.subarray(offset + 32))
    .digest();
  mac.copy(c1, offset);
  return c1;
}

void test('client and server complete a digest handshake with each other', () => {
  const server = new RtmpServerHandshake();
  const client = new RtmpClientHandshake();
  const s = server.push(client.start());
  assert.equal(s.done, false);
  assert.ok(s.send !== null);
  assert.equal(s.send.length, 1 + 2 * HANDSHAKE_SIZE);
  assert.equal(server.digestMode, true);
  const c = client.push(s.send);
  assert.equal(c.done, true);
  assert.equal(c.rest, null);
  assert.equal(client.digestMode, true);
  assert.equal(client.serverSignatureValid, true);
  assert.ok(c.send !== null);
  const tail = Buffer.from('chunk stream');
  const last = server.push(Buffer.concat([c.send, tail]));
  assert.deepEqual(last, { send: null, done: true, rest: tail });
});

void test('a C1 digest in either offset scheme is recognised', () => {
  for (const base of [8, 772]) {
    const c1 = digestC1(base);
    assert.ok(findDigest(c1, PLAYER_KEY) !== null, `scheme at ${base}`);
    const server = new RtmpServerHandshake();
    const step = server.push(Buffer.concat([Buffer.from([3]), c1]));
    assert.equal(server.digestMode, true);
    const s2 = step.send!.subarray(1 + HANDSHAKE_SIZE);
    assert.notDeepEqual(s2, c1, 'digest mode does not echo');
  }
});

void test('a plain C1 gets S1 with zeros and S2 echoing C1', () => {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 4);
  const server = new RtmpServerHandshake();
  const step = server.push(Buffer.concat([Buffer.from([3]), c1]));
  assert.equal(server.digestMode, false);
  const out = step.send!;
  assert.equal(out[0], 3);
  assert.equal(out.readUInt32BE(1 + 4), 0);
  assert.deepEqual(out.subarray(1 + HANDSHAKE_SIZE), c1);
  const done = server.push(Buffer.alloc(HANDSHAKE_SIZE));
  assert.equal(done.done, true);
  assert.equal(done.rest, null);
});

void test('a C1 with a version but a wrong digest falls back to plain', () => {
  const c1 = digestC1(8);
  c1[100] ^= 0xff; // any changed byte breaks the HMAC (100 is not an offset byte of either scheme)
  const server = new RtmpServerHandshake();
  const out = server.push(Buffer.concat([Buffer.from([3]), c1])).send!;
  assert.equal(server.digestMode, false);
  assert.deepEqual(out.subarray(1 + HANDSHAKE_SIZE), c1);
});

void test('the client echoes S1 when the server answers plainly', () => {
  const client = new RtmpClientHandshake();
  client.start();
  const s1 = randomBytes(HANDSHAKE_SIZE);
  s1.writeUInt32BE(0, 4);
  const step = client.push(Buffer.concat([Buffer.from([3]), s1, randomBytes(HANDSHAKE_SIZE)]));
  assert.equal(step.done, true);
  assert.equal(client.digestMode, false);
  assert.deepEqual(step.send, s1);
});

void test('byte-at-a-time and random-piece feeding give the same result', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), (sizes) => {
      const server = new RtmpServerHandshake();
      const client = new RtmpClientHandshake();
      const toServer = feed(server, client.start(), sizes);
      assert.equal(toServer.done, false);
      assert.equal(toServer.sent.length, 1 + 2 * HANDSHAKE_SIZE);
      const extra = Buffer.from([1, 2, 3, 4, 5]);
      const toClient = feed(client, Buffer.concat([toServer.sent, extra]), sizes);
      assert.equal(toClient.done, true);
      assert.deepEqual(toClient.rest, extra);
      assert.equal(client.serverSignatureValid, true);
      const last = feed(server, Buffer.concat([toClient.sent, extra]), sizes);
      assert.equal(last.done, true);
      assert.equal(last.sent.length, 0);
      assert.deepEqual(last.rest, extra);
    }),
    { numRuns: 30 },
  );
  const server = new RtmpServerHandshake();
  const client = new RtmpClientHandshake();
  const out = feed(server, client.start(), [1]);
  assert.equal(out.sent.length, 1 + 2 * HANDSHAKE_SIZE);
  assert.equal(server.digestMode, true);
  assert.equal(feed(client, out.sent, [1]).done, true);
});

void test('C0+C1+C2 pipelined in one push completes at once', () => {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 4);
  const server = new RtmpServerHandshake();
  const step = server.push(Buffer.concat([Buffer.from([3]), c1, Buffer.alloc(HANDSHAKE_SIZE), Buffer.from([7])]));
  assert.equal(step.done, true);
  assert.equal(step.send!.length, 1 + 2 * HANDSHAKE_SIZE);
  assert.deepEqual(step.rest, Buffer.from([7]));
});

void test('a version other than 3 is rejected on its first byte', () => {
  for (const version of [0, 6, 8, 255]) {
    assert.throws(
      () => new RtmpServerHandshake().push(Buffer.from([version])),
      (err) => err instanceof ProtocolError && err.code === 'MS_ERR_RTMP_HANDSHAKE',
    );
    const client = new RtmpClientHandshake();
    client.start();
    assert.throws(() => client.push(Buffer.from([version])), ProtocolError);
  }
});
