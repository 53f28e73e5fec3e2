/**
 * The media worker channel (src/protocols/worker/MediaChannel.ts) on real MessagePorts: one post
 * per turn in send order, requests answered by id, failures rebuilt as the project's error class
 * by their code, and the post check that finds byte arrays that would be cloned with more than
 * their own bytes.
 */
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { MediaServerError, ProtocolError, RejectionError } from '../../../src/errors.js';
import { MediaChannel, type RequestHandlers, unmovedBytes, wireBytes } from '../../../src/protocols/worker/MediaChannel.js';

type Msg = { op: 'bytes'; data: Uint8Array } | { op: 'n'; n: number };
type Asks = {
  echo: { args: { text: string }; reply: { text: string } };
  fail: { args: { code: string }; reply: null };
};

const pair = (answer: RequestHandlers<Asks>): { a: MediaChannel<Msg, Msg, Asks, Asks>; b: MediaChannel<Msg, Msg, Asks, Asks>; got: Msg[]; errors: unknown[]; close: () => void } => {
  const { port1, port2 } = new MessageChannel();
  const got: Msg[] = [];
  const errors: unknown[] = [];
  const none = { echo: () => ({ text: '' }), fail: () => null };
  const a = new MediaChannel<Msg, Msg, Asks, Asks>(port1, () => undefined, none, (e) => errors.push(e));
  const b = new MediaChannel<Msg, Msg, Asks, Asks>(port2, (m) => got.push(m), answer, (e) => errors.push(e));
  return { a, b, got, errors, close: () => { port1.close(); port2.close(); } };
};

describe('media worker channel', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));

  it('posts once per turn, in send order, and moves the byte arrays', async () => {
    const p = pair({ echo: ({ text }) => ({ text }), fail: () => null });
    closers.push(p.close);
    const bytes = wireBytes(Buffer.from('frame bytes'));
    for (let n = 0; n < 5; n++) {
      p.a.send({ op: 'n', n });
    }
    p.a.send({ op: 'bytes', data: bytes }, [bytes.buffer as ArrayBuffer]);
    p.a.send({ op: 'n', n: 5 });
    assert.equal(p.a.stats.posts, 0, 'nothing posted during the turn');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.a.stats.posts, 1);
    assert.equal(bytes.byteLength, 0, 'the sender\'s copy was moved (detached)');
    assert.deepEqual(p.got.map((m) => (m.op === 'n' ? m.n : Buffer.from(m.data).toString())), [0, 1, 2, 3, 4, 'frame bytes', 5]);
  });

  it('answers requests by id, and rebuilds a failure as our error class by its code', async () => {
    const p = pair({
      echo: ({ text }) => Promise.resolve({ text: text.toUpperCase() }),
      fail: ({ code }) => {
        if (code === 'plain') {
          throw new Error('plain failure');
        }
        throw code === 'MS_ERR_RTMP_PROTOCOL' ? new ProtocolError(code, 'bad chunk') : new RejectionError('MS_ERR_PLAY_REJECTED', 'no');
      },
    });
    closers.push(p.close);
    const [x, y] = await Promise.all([p.a.request('echo', { text: 'one' }), p.a.request('echo', { text: 'two' })]);
    assert.deepEqual([x.text, y.text], ['ONE', 'TWO']);
    await assert.rejects(p.a.request('fail', { code: 'MS_ERR_RTMP_PROTOCOL' }), (err: unknown) => err instanceof ProtocolError && err.code === 'MS_ERR_RTMP_PROTOCOL' && err.message === 'bad chunk');
    await assert.rejects(p.a.request('fail', { code: 'x' }), (err: unknown) => err instanceof RejectionError && err.code === 'MS_ERR_PLAY_REJECTED');
    await assert.rejects(p.a.request('fail', { code: 'plain' }), (err: unknown) => err instanceof MediaServerError && err.code === 'MS_ERR_INTERNAL' && /plain failure/.test(err.message));
  });

  it('fails pending requests when closed', async () => {
    const p = pair({ echo: () => new Promise(() => undefined), fail: () => null });
    closers.push(p.close);
    const pending = p.a.request('echo', { text: 'never' });
    p.a.close('worker exited');
    await assert.rejects(pending, (err: unknown) => err instanceof MediaServerError && err.code === 'MS_ERR_WORKER_GONE');
  });

  it('finds views of larger buffers and bytes that are not moved', () => {
    const pooled = Buffer.from('small'); // a slice of Node's 8 KiB pool
    const own = wireBytes(pooled);
    const notMoved = wireBytes(pooled);
    const problems = unmovedBytes([{ op: 'x', a: pooled, b: own, c: [notMoved] }], new Set([own.buffer]));
    assert.equal(problems.length, 2, problems.join('; '));
    assert.match(problems[0], /message\[0\]\.a: a 5-byte view of a \d+-byte buffer/);
    assert.match(problems[1], /message\[0\]\.c\[0\]: 5 bytes copied instead of moved/);
  });
});
