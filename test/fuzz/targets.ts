/**
 * Every parser of wire or file input, as a fuzz target (issue 14): what it is fed, the seeds
 * its inputs grow from (real sessions where there are some), and what it may do with garbage:
 * return a value, or throw its documented error type. Anything else it throws, any hang, is a
 * finding (test/fuzz/fuzz.test.ts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AmfParseError, decodeAmf0, decodeAmf3, encodeAmf0, encodeAmf3 } from '../../src/amf/index.js';
import { parseIni } from '../../src/config/ini.js';
import { parseTargets } from '../../src/config/targets.js';
import { ConfigError, MeshError, ProtocolError } from '../../src/errors.js';
import { TsKernels } from '../../src/kernels/ts/TsKernels.js';
import { MeshFrameDecoder } from '../../src/mesh/MeshCodec.js';
import { decodeArgs } from '../../src/mesh/meshArgs.js';
import { readControl } from '../../src/mesh/meshControl.js';
import { parseEpd } from '../../src/protocols/rtmfp/epd.js';
import { readForwardedIHello, readIHello, readIIKeying, readRHello, readRedirect } from '../../src/protocols/rtmfp/handshakeChunks.js';
import { RtmfpHandshake } from '../../src/protocols/rtmfp/RtmfpHandshake.js';
import { ChunkIterator, PacketHeader, readPacketHeader } from '../../src/protocols/rtmfp/RtmfpPacket.js';
import {
  AckChunk, FlowException, FlowOptions, UserDataChunk, readBitmapAck, readBufferProbe, readFlowException, readFlowOptions, readNextUserData,
  readRangeAck, readUserData,
} from '../../src/protocols/rtmfp/sessionChunks.js';
import { unpackAggregate } from '../../src/protocols/rtmp/aggregate.js';
import { RtmpChunkReader } from '../../src/protocols/rtmp/RtmpChunkReader.js';
import { RtmpServerHandshake } from '../../src/protocols/rtmp/RtmpHandshake.js';
import { encodeMessage } from '../../src/protocols/rtmp/RtmpChunkWriter.js';

export interface FuzzTarget {
  name: string;
  /** Real or well-formed inputs that mutations start from. */
  seeds: Buffer[];
  /** Feeds one input; `split` is where a streaming parser gets it cut (a fraction of its length). */
  run(input: Buffer, split: number): void | Promise<void>;
  /** The errors it is allowed to throw for garbage. */
  allowed(err: unknown): boolean;
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const shared = here('../../../shared/vectors/rtmfp/flash-11.7/');
const flashPackets = (): Buffer[] =>
  existsSync(shared) ? readdirSync(shared).filter((f) => f.endsWith('.hex')).map((f) => Buffer.from(readFileSync(shared + f, 'utf8').trim(), 'hex')) : [];
/** The client side of a real session: ffmpeg publishing for 2 s (handshake, connect, publish, media). */
const ffmpegPublish = readFileSync(here('./corpus/rtmp-ffmpeg-publish.bin'));

/** Startup packets open with the default key: the decrypted plaintexts make packet-level seeds. */
const kernels = new TsKernels();
const startupKey = kernels.createPacketKey(Buffer.from('Adobe Systems 02', 'ascii'));
const plaintextOf = (datagram: Buffer): Buffer | null => {
  const out = Buffer.alloc(datagram.length);
  const n = kernels.decryptPacket(startupKey, datagram, 0, datagram.length, out, 0);
  return n > 0 ? out.subarray(0, n) : null;
};

const never = (): boolean => false;

const splitAt = (input: Buffer, split: number): [Buffer, Buffer] => {
  const at = Math.floor(split * input.length);
  return [input.subarray(0, at), input.subarray(at)];
};

const amfSeeds = (): Buffer[] => [
  encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://h/live', fpad: false, capabilities: 15, objectEncoding: 0 }),
  encodeAmf0('onStatus', 0, null, { level: 'status', code: 'NetStream.Play.Start', details: [1, 2, 'x'], when: new Date(0) }),
  encodeAmf3({ a: [1, 2.5, 'three', null, true], b: { nested: { deeper: 'yes' } }, c: new Date(0) }),
];

export const targets: FuzzTarget[] = [
  {
    name: 'amf0',
    seeds: amfSeeds(),
    run: (input) => void decodeAmf0(input),
    allowed: (err) => err instanceof AmfParseError,
  },
  {
    name: 'amf3',
    seeds: amfSeeds(),
    run: (input) => void decodeAmf3(input),
    allowed: (err) => err instanceof AmfParseError,
  },
  {
    name: 'rtmp-handshake',
    seeds: [ffmpegPublish.subarray(0, 1537 + 1536 + 200)],
    run: (input, split) => {
      const handshake = new RtmpServerHandshake();
      for (const part of splitAt(input, split)) {
        if (part.length > 0 && handshake.push(part).done) {
          return;
        }
      }
    },
    allowed: (err) => err instanceof ProtocolError,
  },
  {
    name: 'rtmp-chunk-stream',
    // After the handshake: connect, createStream, publish, metadata, media, as ffmpeg sends them.
    seeds: [ffmpegPublish.subarray(1537 + 1536), encodeMessage(3, 20, 0, 0, encodeAmf0('connect', 1, { app: 'x' }), 128)],
    run: (input, split) => {
      const reader = new RtmpChunkReader((msg) => {
        if (msg.type === 1 && msg.payload.length >= 4) {
          // What the session does with Set Chunk Size (invalid sizes throw ProtocolError).
          reader.chunkSize = msg.payload.readUInt32BE(0);
        }
        if (msg.type === 22) {
          unpackAggregate(msg.payload, msg.timestamp);
        }
      }, { maxMessageSize: 1 << 20 });
      for (const part of splitAt(input, split)) {
        reader.push(part);
      }
    },
    allowed: (err) => err instanceof ProtocolError,
  },
  {
    name: 'rtmfp-packet',
    seeds: flashPackets().map(plaintextOf).filter((p): p is Buffer => p !== null),
    run: (input) => {
      // A plaintext after the checksum: header, then every chunk parsed as every kind.
      const header = new PacketHeader();
      if (!readPacketHeader(input, 2, input.length, header)) {
        return;
      }
      const chunks = new ChunkIterator().reset(input, header.chunksStart, input.length);
      const data = new UserDataChunk();
      const ack = new AckChunk();
      const exception = new FlowException();
      const options = new FlowOptions();
      while (chunks.next()) {
        const { start, payloadEnd } = chunks;
        readUserData(input, start, payloadEnd, data);
        readNextUserData(input, start, payloadEnd, data);
        readFlowOptions(input, start, payloadEnd, options);
        readRangeAck(input, start, payloadEnd, ack);
        readBitmapAck(input, start, payloadEnd, ack);
        readFlowException(input, start, payloadEnd, exception);
        readBufferProbe(input, start, payloadEnd);
        readIHello(input, start, payloadEnd);
        readIIKeying(input, start, payloadEnd);
        readRHello(input, start, payloadEnd);
        readRedirect(input, start, payloadEnd);
        readForwardedIHello(input, start, payloadEnd);
      }
      parseEpd(input);
    },
    allowed: never,
  },
  {
    name: 'rtmfp-handshake',
    seeds: flashPackets(),
    run: async (input) => {
      // Whole datagrams to a responder: it answers, drops and counts, never throws.
      await new RtmfpHandshake({ kernels }).receive(input, '192.0.2.1', 1935);
    },
    allowed: never,
  },
  {
    name: 'mesh-frames',
    seeds: [Buffer.from('000000090568656c6c6f000000', 'hex'), Buffer.concat([Buffer.from([0, 0, 0, 12, 3]), Buffer.from('pub'), encodeAmf0('x', 1)])],
    run: (input, split) => {
      const decoder = new MeshFrameDecoder(1 << 16, (handler, payload) => {
        if (handler === null) {
          readControl(payload);
        } else {
          try {
            decodeArgs(payload);
          } catch (err) {
            // What Mesh.onLinkMessage does: unreadable arguments drop that message.
            if (!(err instanceof AmfParseError)) {
              throw err;
            }
          }
        }
      });
      for (const part of splitAt(input, split)) {
        const error = decoder.push(part);
        if (error !== null) {
          if (!(error instanceof MeshError)) {
            throw new Error('push returned something that is not a MeshError');
          }
          return;
        }
      }
    },
    allowed: never,
  },
  {
    name: 'ini',
    seeds: [Buffer.from('; comment\nhost = 127.0.0.1\n[RTMP]\nport=1935\n[servers]\ntargets = a:1?type=master;b:2\n')],
    run: (input) => void parseIni(input.toString('utf8')),
    allowed: (err) => err instanceof ConfigError,
  },
  {
    name: 'mesh-targets',
    seeds: [Buffer.from('127.0.0.1:1936?type=master&x=1;[::1]:1937;host.example:9')],
    run: (input) => void parseTargets(input.toString('utf8')),
    allowed: (err) => err instanceof ConfigError,
  },
];

/** Findings kept as regression tests: test/fuzz/regressions/<target>/<name>.hex (one line of hex, "@split" optional). */
export const regressions = (target: string): Array<{ file: string; input: Buffer; split: number }> => {
  const dir = here(`./regressions/${target}/`);
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .map((file) => {
      const [hex, split] = readFileSync(dir + file, 'utf8').trim().split('@');
      return { file, input: Buffer.from(hex, 'hex'), split: split === undefined ? 0.5 : Number(split) };
    });
};
