import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError } from '../../../src/errors.js';
import { RtmpChunkReader } from '../../../src/protocols/rtmp/RtmpChunkReader.js';
import type { RtmpMessage } from '../../../src/protocols/rtmp/RtmpChunkReader.js';
import { abort, encodeMessage, setChunkSize } from '../../../src/protocols/rtmp/RtmpChunkWriter.js';
import { MessageType } from '../../../src/protocols/rtmp/constants.js';

type Msg = Omit<RtmpMessage, 'payload'> & { payload: Buffer };

const basicHeader = (fmt: number, csid: number): Buffer => {
  if (csid < 64) {
    return Buffer.from([(fmt << 6) | csid]);
  }
  if (csid < 320) {
    return Buffer.from([fmt << 6, csid - 64]);
  }
  return Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
};

/** One chunk header built by hand: `time` is the absolute timestamp (fmt 0) or the delta (fmt 1/2). */
function header(
  fmt: number,
  csid: number,
  fields: { time?: number; length?: number; type?: number; streamId?: number; ext?: number } = {},
): Buffer {
  const parts = [basicHeader(fmt, csid)];
  const time = fields.time ?? 0;
  const extended = time >= 0xffffff;
  if (fmt < 3) {
    const mh = Buffer.alloc([11, 7, 3][fmt]);
    mh.writeUIntBE(extended ? 0xffffff : time, 0, 3);
    if (fmt < 2) {
      mh.writeUIntBE(fields.length ?? 0, 3, 3);
      mh[6] = fields.type ?? 0;
    }
    if (fmt === 0) {
      mh.writeUInt32LE(fields.streamId ?? 0, 7);
    }
    parts.push(mh);
  }
  const ext = fmt < 3 && extended ? time : fields.ext;
  if (ext !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(ext >>> 0);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/**
 * Reference encoder that compresses headers the way librtmp does (fmt 1/2/3 whenever the previous
 * header on the csid allows), returning each message as its list of chunks.
 */
class CompressingEncoder {
  private readonly prev = new Map<number, { ts: number; delta: number; length: number; type: number; streamId: number }>();

  encode(msg: Msg, chunkSize: number, compress: boolean): Buffer[] {
    const p = this.prev.get(msg.csid);
    const length = msg.payload.length;
    let fmt = 0;
    let field = msg.timestamp;
    if (compress && p !== undefined && p.streamId === msg.streamId) {
      field = (msg.timestamp - p.ts) >>> 0;
      fmt = p.length !== length || p.type !== msg.type ? 1 : field !== p.delta ? 2 : 3;
    }
    this.prev.set(msg.csid, { ts: msg.timestamp, delta: field, length, type: msg.type, streamId: msg.streamId });
    const extended = field >= 0xffffff;
    const first =
      fmt === 3
        ? header(3, msg.csid, extended ? { ext: field } : {})
        : header(fmt, msg.csid, { time: field, length, type: msg.type, streamId: msg.streamId });
    const chunks: Buffer[] = [];
    let sent = 0;
    do {
      const n = Math.min(chunkSize, length - sent);
      const h = sent === 0 ? first : header(3, msg.csid, extended ? { ext: field } : {});
      chunks.push(Buffer.concat([h, msg.payload.subarray(sent, sent + n)]));
      sent += n;
    } while (sent < length);
    return chunks;
  }
}

/** Push `data` in pieces of the given sizes (cycled), each piece a fresh copy like a socket gives. */
function pushPieces(reader: RtmpChunkReader, data: Buffer, sizes: number[]): void {
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]);
    reader.push(Buffer.from(data.subarray(offset, offset + n)));
    offset += n;
  }
}

const collect = (options?: { maxMessageSize?: number; maxChunkStreams?: number }) => {
  const got: RtmpMessage[] = [];
  const reader = new RtmpChunkReader((m) => got.push(m), options);
  return { got, reader };
};

const plain = (m: RtmpMessage): Msg => ({ ...m, payload: Buffer.from(m.payload) });

const csidArb = fc.oneof(fc.integer({ min: 2, max: 63 }), fc.integer({ min: 64, max: 319 }), fc.integer({ min: 320, max: 65599 }));
const timestampArb = fc.oneof(fc.integer({ min: 0, max: 0xfffffe }), fc.integer({ min: 0xfffff0, max: 0xffffffff }));
const msgArb = (csid: fc.Arbitrary<number>) =>
  fc.record({
    csid,
    type: fc.integer({ min: 0, max: 255 }),
    streamId: fc.oneof(fc.constant(0), fc.constant(1), fc.nat({ max: 0xffffffff })),
    timestamp: timestampArb,
    payload: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  }).map((m): Msg => ({ ...m })); // fc.record objects have a null prototype; deepEqual would mind
const chunkSizeArb = fc.oneof(fc.integer({ min: 1, max: 700 }), fc.constantFrom(128, 4096, 0x7fffffff));
const piecesArb = fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 10 });

void test('encodeMessage output round-trips through the reader in any split', () => {
  fc.assert(
    fc.property(fc.array(msgArb(csidArb), { maxLength: 12 }), chunkSizeArb, piecesArb, (msgs, chunkSize, pieces) => {
      const stream = Buffer.concat(msgs.map((m) => encodeMessage(m.csid, m.type, m.streamId, m.timestamp, m.payload, chunkSize)));
      const { got, reader } = collect();
      reader.chunkSize = chunkSize;
      pushPieces(reader, stream, pieces);
      assert.deepEqual(got.map(plain), msgs);
      assert.equal(reader.bytesReceived, stream.length);
    }),
    { numRuns: 300 },
  );
});

void test('compressed headers (fmt 1/2/3) on interleaved chunk streams round-trip', () => {
  const csids = fc.constantFrom(2, 3, 4, 6, 63, 64, 319, 320, 65599);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(msgArb(csids), fc.boolean()), { maxLength: 30 }),
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
      piecesArb,
      (items, chunkSize, picks, pieces) => {
        const encoder = new CompressingEncoder();
        const queues = new Map<number, Buffer[]>();
        const expected = new Map<number, Msg[]>();
        for (const [m, compress] of items) {
          const chunks = encoder.encode(m, chunkSize, compress);
          queues.set(m.csid, [...(queues.get(m.csid) ?? []), ...chunks]);
          expected.set(m.csid, [...(expected.get(m.csid) ?? []), m]);
        }
        const out: Buffer[] = [];
        const live = [...queues.values()].filter((q) => q.length > 0);
        for (let i = 0; live.length > 0; i++) {
          const k = picks[i % picks.length] % live.length;
          out.push(live[k].shift()!);
          if (live[k].length === 0) {
            live.splice(k, 1);
          }
        }
        const { got, reader } = collect();
        reader.chunkSize = chunkSize;
        pushPieces(reader, Buffer.concat(out), pieces);
        assert.equal(got.length, items.length);
        for (const [csid, msgs] of expected) {
          assert.deepEqual(got.filter((m) => m.csid === csid).map(plain), msgs);
        }
      },
    ),
    { numRuns: 300 },
  );
});

void test('same-delta runs use fmt 3 for new messages, including extended deltas', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0xfffffe, max: 0x1000010 })),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 1, max: 200 }),
      piecesArb,
      (start, delta, count, length, chunkSize, pieces) => {
        const encoder = new CompressingEncoder();
        const msgs: Msg[] = [];
        for (let i = 0; i < count; i++) {
          msgs.push({ csid: 6, type: 9, streamId: 1, timestamp: (start + i * delta) >>> 0, payload: Buffer.alloc(length, i) });
        }
        const stream = Buffer.concat(msgs.flatMap((m) => encoder.encode(m, chunkSize, true)));
        const { got, reader } = collect();
        reader.chunkSize = chunkSize;
        pushPieces(reader, stream, pieces);
        assert.deepEqual(got.map(plain), msgs);
      },
    ),
    { numRuns: 200 },
  );
});

/** A hand-built stream covering every header form, for the split-point test. */
function handBuiltStream(): { bytes: Buffer; expected: Array<[number, number, number]> } {
  const p = (n: number, fill: number) => Buffer.alloc(n, fill);
  const parts = [
    header(0, 3, { time: 1000, length: 10, type: 20, streamId: 0 }), p(10, 1), // 1000
    header(3, 3), p(10, 2), // fmt 3 after fmt 0: delta = 1000 -> 2000
    header(2, 3, { time: 20 }), p(10, 3), // 2020
    header(3, 3), p(10, 4), // 2040
    header(1, 3, { time: 5, length: 0, type: 18 }), // zero-length, 2045
    header(0, 400, { time: 0x01020304, length: 200, type: 9, streamId: 1 }), p(128, 5),
    header(0, 70, { time: 7, length: 3, type: 8, streamId: 1 }), p(3, 6), // interleaved on a 2-byte csid
    header(3, 400, { ext: 0x01020304 }), p(72, 5), // continuation repeats the extended timestamp
    header(2, 400, { time: 0xfffffff0 }), p(128, 7), // extended delta: wraps to 0x010202f4
    header(3, 400, { ext: 0xfffffff0 }), p(72, 7),
    header(3, 400, { ext: 0xfffffff0 }), p(128, 8), // new message, same extended delta: 0x010202e4
    header(3, 400, { ext: 0xfffffff0 }), p(72, 8),
  ];
  return {
    bytes: Buffer.concat(parts),
    expected: [
      [3, 1000, 10], [3, 2000, 10], [3, 2020, 10], [3, 2040, 10], [3, 2045, 0],
      [70, 7, 3], [400, 0x01020304, 200], [400, 0x010202f4, 200], [400, 0x010202e4, 200],
    ],
  };
}

void test('every split point of a hand-built stream gives the same messages', () => {
  const { bytes, expected } = handBuiltStream();
  for (let i = 0; i <= bytes.length; i++) {
    const { got, reader } = collect();
    reader.push(Buffer.from(bytes.subarray(0, i)));
    reader.push(Buffer.from(bytes.subarray(i)));
    assert.deepEqual(got.map((m) => [m.csid, m.timestamp, m.payload.length]), expected, `split at ${i}`);
    assert.deepEqual(got[1].payload, Buffer.alloc(10, 2));
    assert.deepEqual(got[6].payload, Buffer.alloc(200, 5));
  }
  const { got, reader } = collect();
  pushPieces(reader, bytes, [1]);
  assert.equal(got.length, expected.length);
});

void test('timestamps wrap at 32 bits', () => {
  const { got, reader } = collect();
  reader.push(Buffer.concat([
    header(0, 4, { time: 0xfffffff0, length: 1, type: 8 }), Buffer.from([0]),
    header(2, 4, { time: 0x20 }), Buffer.from([0]),
    header(3, 4), Buffer.from([0]),
  ]));
  assert.deepEqual(got.map((m) => m.timestamp), [0xfffffff0, 0x10, 0x30]);
});

void test('a whole single-chunk message is a view of the pushed buffer, multi-chunk ones are not', () => {
  const { got, reader } = collect();
  const one = encodeMessage(4, 8, 1, 0, Buffer.alloc(100, 1), 128);
  reader.push(one);
  assert.equal(got[0].payload.buffer, one.buffer);
  const two = encodeMessage(4, 8, 1, 0, Buffer.alloc(200, 2), 128);
  reader.push(two);
  two.fill(0); // the assembled payload is a copy, so this must not reach it
  assert.deepEqual(got[1].payload, Buffer.alloc(200, 2));
});

void test('Set Chunk Size handled inside onMessage applies to the next chunk', () => {
  const big = Buffer.alloc(5000, 9);
  const stream = Buffer.concat([
    encodeMessage(6, 9, 1, 0, Buffer.alloc(300, 1), 128),
    setChunkSize(4096),
    encodeMessage(6, 9, 1, 40, big, 4096),
    setChunkSize(0x7fffffff),
    encodeMessage(6, 9, 1, 80, big, 0x7fffffff),
  ]);
  for (let i = 0; i <= stream.length; i += 7) {
    const got: RtmpMessage[] = [];
    const reader: RtmpChunkReader = new RtmpChunkReader((m) => {
      got.push(m);
      if (m.type === MessageType.SET_CHUNK_SIZE) {
        reader.chunkSize = m.payload.readUInt32BE(0);
      }
    });
    reader.push(Buffer.from(stream.subarray(0, i)));
    reader.push(Buffer.from(stream.subarray(i)));
    assert.deepEqual(got.map((m) => m.payload.length), [300, 4, 5000, 4, 5000]);
    assert.deepEqual(got[4].payload, big);
    assert.equal(reader.chunkSize, 0x7fffffff);
  }
});

void test('Abort drops the partial message and the csid starts afresh', () => {
  const got: RtmpMessage[] = [];
  const reader: RtmpChunkReader = new RtmpChunkReader((m) => {
    got.push(m);
    if (m.type === MessageType.ABORT) {
      reader.abort(m.payload.readUInt32BE(0));
    }
  });
  const first = encodeMessage(6, 9, 1, 100, Buffer.alloc(300, 1), 128).subarray(0, 1 + 11 + 128);
  reader.push(Buffer.concat([
    first,
    abort(6),
    header(3, 6), Buffer.alloc(128, 2), // fmt 3 after abort: a new 300-byte message, delta 100
    header(3, 6), Buffer.alloc(128, 2),
    header(3, 6), Buffer.alloc(44, 2),
  ]));
  assert.deepEqual(got.map((m) => [m.type, m.timestamp, m.payload.length]), [[2, 0, 4], [9, 200, 300]]);
  assert.deepEqual(got[1].payload, Buffer.alloc(300, 2));
  reader.abort(99); // unknown csid: ignored
});

void test('a declared length above maxMessageSize is rejected, the limit itself is fine', () => {
  const { got, reader } = collect({ maxMessageSize: 1000 });
  reader.push(encodeMessage(4, 8, 1, 0, Buffer.alloc(1000), 128));
  assert.equal(got.length, 1);
  assert.throws(
    () => reader.push(header(0, 4, { length: 1001, type: 8 })),
    (err) => err instanceof ProtocolError && err.code === 'MS_ERR_RTMP_MESSAGE_TOO_LARGE',
  );
  assert.throws(() => reader.push(Buffer.from([0x04])), ProtocolError, 'a failed reader stays failed');
  const fresh = collect();
  assert.throws(
    () => fresh.reader.push(header(0, 4, { length: 0xffffff, type: 8 })),
    (err) => err instanceof ProtocolError && err.code === 'MS_ERR_RTMP_MESSAGE_TOO_LARGE',
  );
});

void test('fmt 1/2/3 on a chunk stream never seen is rejected', () => {
  for (const fmt of [1, 2, 3]) {
    const { reader } = collect();
    assert.throws(
      () => reader.push(header(fmt, 5, { time: 1, length: 1 })),
      (err) => err instanceof ProtocolError && err.code === 'MS_ERR_RTMP_PROTOCOL',
    );
  }
});

void test('a new message header in the middle of a message is rejected', () => {
  for (const fmt of [0, 1, 2]) {
    const { reader } = collect();
    reader.push(encodeMessage(4, 8, 1, 0, Buffer.alloc(200), 128).subarray(0, 1 + 11 + 128));
    assert.throws(() => reader.push(header(fmt, 4, { time: 1, length: 1 })), ProtocolError);
  }
});

void test('more chunk streams than maxChunkStreams are rejected', () => {
  const { got, reader } = collect({ maxChunkStreams: 3 });
  for (const csid of [2, 3, 4, 2, 3]) {
    reader.push(encodeMessage(csid, 8, 0, 0, Buffer.alloc(1), 128));
  }
  assert.equal(got.length, 5);
  assert.throws(() => reader.push(encodeMessage(5, 8, 0, 0, Buffer.alloc(1), 128)), ProtocolError);
});

void test('invalid chunk sizes are refused', () => {
  const { reader } = collect();
  for (const bad of [0, -1, 0x80000000, 1.5, Number.NaN]) {
    assert.throws(() => {
      reader.chunkSize = bad;
    }, ProtocolError);
  }
  reader.chunkSize = 1;
  reader.chunkSize = 0x7fffffff;
});

void test('random bytes only ever raise ProtocolError and always terminate', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.integer({ min: 1, max: 300 }),
      piecesArb,
      (bytes, chunkSize, pieces) => {
        const { reader } = collect({ maxMessageSize: 65536 });
        reader.chunkSize = chunkSize;
        try {
          pushPieces(reader, Buffer.from(bytes), pieces);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

void test('random bytes after a valid prefix only ever raise ProtocolError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), piecesArb, (bytes, pieces) => {
      const { reader } = collect();
      const prefix = Buffer.concat([
        encodeMessage(3, 20, 0, 0xffffff, Buffer.alloc(300), 128),
        encodeMessage(6, 9, 1, 5, Buffer.alloc(10), 128),
      ]);
      try {
        pushPieces(reader, Buffer.concat([prefix, Buffer.from(bytes)]), pieces);
      } catch (err) {
        assert.ok(err instanceof ProtocolError, String(err));
      }
    }),
    { numRuns: 1000 },
  );
});
