/**
 * The mesh framing (mona-api.md §2.3): MonaServer's bytes exactly, handler-name compression, and
 * hostile input (style rule 14): every split point, random chunking, random bytes, oversize.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MeshError } from '../../../src/errors.js';
import { MeshFrameDecoder, MeshFrameEncoder, checkHandler, readVarint, varintSize, writeVarint } from '../../../src/mesh/MeshCodec.js';
import { encodeArgs, payloadBytes } from '../../../src/mesh/meshArgs.js';
import { Control, appSyncPayload, helloPayload, readControl } from '../../../src/mesh/meshControl.js';

interface Frame {
  handler: string | null;
  payload: Buffer;
}

/** Encodes frames as one byte stream (one encoder: names numbered on first use). */
const encodeAll = (frames: readonly Frame[]): Buffer => {
  const encoder = new MeshFrameEncoder();
  return Buffer.concat(frames.flatMap((f) => [encoder.header(f.handler, f.payload.length), f.payload]));
};

/** Decodes `chunks` in order; the frames (payloads copied) and the first error. */
const decodeAll = (chunks: readonly Buffer[], max = 1 << 20): { frames: Frame[]; error: MeshError | null } => {
  const frames: Frame[] = [];
  const decoder = new MeshFrameDecoder(max, (handler, payload) => frames.push({ handler, payload: Buffer.from(payload) }));
  for (const chunk of chunks) {
    const error = decoder.push(chunk);
    if (error !== null) {
      return { frames, error };
    }
  }
  return { frames, error: null };
};

const frameArb: fc.Arbitrary<Frame> = fc.record({
  handler: fc.oneof(fc.constant(null), fc.constantFrom('video', 'audio', 'publish', '.', 'onHello', 'é'), fc.string({ minLength: 1, maxLength: 20 })),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
}).map((f) => ({ handler: f.handler, payload: f.payload }));

describe('mesh framing', () => {
  it('writes varints LSB-first, 7 bits a byte, and reads them back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const buf = Buffer.alloc(5);
        const end = writeVarint(buf, 0, v);
        assert.equal(end, varintSize(v));
        const cursor = { pos: 0 };
        assert.equal(readVarint(buf, cursor, end), v);
        assert.equal(cursor.pos, end);
      }),
    );
    const b = Buffer.alloc(2);
    writeVarint(b, 0, 300);
    assert.deepEqual([...b], [0xac, 0x02]);
    assert.equal(readVarint(Buffer.from([0x80, 0x80]), { pos: 0 }, 2), -1, 'runs past the end');
  });

  it('produces MonaServer 1.x bytes: HELLO, the "." sync, a relayed video frame and its repeat', () => {
    const encoder = new MeshFrameEncoder();
    const hello = helloPayload(new Map([['RTMP.port', '1935']]));
    const helloFrame = Buffer.concat([encoder.header(null, hello.length), hello]);
    assert.equal(helloFrame.toString('hex'), `${'00000012'}000001${'09'}${Buffer.from('RTMP.port').toString('hex')}04${Buffer.from('1935').toString('hex')}`);
    const sync = appSyncPayload(['']);
    assert.equal(Buffer.concat([encoder.header('.', sync.length), sync]).toString('hex'), '00000003012e00');
    const packet = Buffer.from('17010000', 'hex');
    const args = payloadBytes(encodeArgs(['relay', 40, packet]));
    assert.equal(args.toString('hex'), `11060b${Buffer.from('relay').toString('hex')}110428110609${packet.toString('hex')}`);
    const video = Buffer.concat([encoder.header('video', args.length), args]);
    assert.equal(video.subarray(4, 10).toString('hex'), `05${Buffer.from('video').toString('hex')}`);
    assert.equal(video.readUInt32BE(0), video.length - 4);
    const repeat = encoder.header('video', args.length);
    assert.equal(repeat.subarray(4).toString('hex'), '0002', 'second use: 00 then the varint ref (video is the 2nd name)');
    assert.equal(encoder.handlerCount, 2);
  });

  it('decodes any frame sequence, whatever the chunking, at every split point', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (frames, cuts) => {
        const stream = encodeAll(frames);
        const chunks: Buffer[] = [];
        for (let pos = 0, i = 0; pos < stream.length; i++) {
          const n = cuts[i % cuts.length];
          chunks.push(stream.subarray(pos, pos + n));
          pos += n;
        }
        const { frames: got, error } = decodeAll(chunks);
        assert.equal(error, null);
        assert.deepEqual(got, frames);
      }),
      { numRuns: 300 },
    );
    const frames: Frame[] = [
      { handler: null, payload: Buffer.from([1, 0, 0]) },
      { handler: 'video', payload: Buffer.alloc(40, 7) },
      { handler: 'video', payload: Buffer.alloc(3, 9) },
      { handler: 'audio', payload: Buffer.alloc(0) },
    ];
    const stream = encodeAll(frames);
    for (let split = 0; split <= stream.length; split++) {
      const { frames: got, error } = decodeAll([stream.subarray(0, split), stream.subarray(split)]);
      assert.equal(error, null, `split at ${split}`);
      assert.deepEqual(got, frames, `split at ${split}`);
    }
  });

  it('never throws on random bytes: frames or a MeshError that closes the link', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 50 }), (bytes, step) => {
        const buf = Buffer.from(bytes);
        const chunks: Buffer[] = [];
        for (let pos = 0; pos < buf.length; pos += step) {
          chunks.push(buf.subarray(pos, pos + step));
        }
        const { error } = decodeAll(chunks, 1000);
        assert.ok(error === null || (error instanceof MeshError && error.code === 'MS_ERR_MESH_FRAME'));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses an empty frame, an oversized frame (on its header alone), a name past its frame, an unknown reference', () => {
    const oversize = decodeAll([Buffer.from([0x7f, 0xff, 0xff, 0xff])], 1 << 20);
    assert.match(oversize.error?.message ?? '', /frame of 2147483647 bytes exceeds the 1048576-byte limit/);
    assert.match(decodeAll([Buffer.from([0, 0, 0, 0])]).error?.message ?? '', /empty frame/);
    assert.match(decodeAll([Buffer.from([0, 0, 0, 2, 9, 0x61])]).error?.message ?? '', /handler name of 9 bytes runs past/);
    assert.match(decodeAll([Buffer.from([0, 0, 0, 2, 0, 3])]).error?.message ?? '', /unknown handler reference 3 \(0 names received\)/);
    assert.match(decodeAll([Buffer.from([0, 0, 0, 2, 0, 0x80])]).error?.message ?? '', /reference runs past/);
  });

  it('checks handler names scripts send', () => {
    for (const bad of ['', '.', 'x'.repeat(256)]) {
      assert.throws(() => checkHandler(bad), (err: unknown) => err instanceof MeshError && err.code === 'MS_ERR_MESH_HANDLER');
    }
    checkHandler('x'.repeat(255));
  });

  it('reads control frames and refuses malformed or unknown ones', () => {
    const hello = readControl(helloPayload(new Map([['a', '1'], ['b', '']])));
    assert.ok(!(hello instanceof MeshError) && hello.kind === Control.HELLO);
    assert.deepEqual([...hello.settings], [['a', '1'], ['b', '']]);
    assert.ok(readControl(Buffer.from([1, 5, 0x61])) instanceof MeshError, 'string past the end');
    assert.ok(readControl(Buffer.from([1, 1, 0x61])) instanceof MeshError, 'key without value');
    assert.ok(readControl(Buffer.from([9])) instanceof MeshError, 'unknown kind');
    assert.ok(readControl(Buffer.alloc(0)) instanceof MeshError);
    const reject = readControl(Buffer.from([0]));
    assert.ok(!(reject instanceof MeshError) && reject.kind === Control.REJECT && reject.reason === 'Unknown error');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        readControl(Buffer.from(bytes));
      }),
    );
  });
});
