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
import { HlsStream } from '../../src/http/hls/index.js';
import { parseCookies, parseRequestPath } from '../../src/http/requestPath.js';
import { parseRange } from '../../src/http/StaticFiles.js';
import { MediaFrame } from '../../src/media/MediaFrame.js';

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
        readBufferProbe(input, start, payloadEnd, { pos: 0 });
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
    name: 'http-request-target',
    // What reaches the HTTP side's own parsing (Node's llhttp parses the request line and headers).
    seeds: [
      Buffer.from('/app/sub/file.html?a=1&b=%20x'),
      Buffer.from('/a/%2e%2e/%2E%2E%5c..%2f/%00/./b/?q'),
      Buffer.from('session=abc; theme="dark"; bad; =x; %zz=%E0%A4%A'),
      Buffer.from('bytes=0-99'),
    ],
    run: (input) => {
      const text = input.toString('latin1');
      const target = parseRequestPath(text);
      if (target !== null) {
        for (const segment of [...target.segments, target.file]) {
          if (segment === '..' || /[/\\\0]/.test(segment)) {
            throw new Error(`a segment that leaves www/ got through: ${JSON.stringify(segment)}`);
          }
        }
      }
      parseCookies(text);
      const range = parseRange(text, input.length);
      if (Array.isArray(range) && (range[0] < 0 || range[1] >= input.length || range[0] > range[1])) {
        throw new Error(`range out of the file: ${JSON.stringify(range)}`);
      }
    },
    allowed: never,
  },
  {
    name: 'hls-flv-frames',
    // Frames as a publisher sends them ([kind][timestamp 2 bytes][length][payload]...): the segmenter never throws.
    seeds: [Buffer.concat([Buffer.from([9, 0, 0, 40]), Buffer.from('1700000000014d401effe1000a674d401ee8802802dd0001000468ee3c80', 'hex'), Buffer.from([8, 0, 0, 4]), Buffer.from('af001210', 'hex'), Buffer.from([9, 0, 40, 12]), Buffer.from('17010000000000000465888000', 'hex').subarray(0, 12)])],
    run: (input) => {
      const stream = new HlsStream('fuzz', { segmentDuration: 0.1, windowSize: 3, partDuration: 0.05 });
      stream.onPublishing(true);
      let at = 0;
      while (at + 4 <= input.length) {
        const kind = input[at] % 3 === 0 ? 8 : input[at] % 3 === 1 ? 9 : 18;
        const timestamp = input.readUInt16BE(at + 1) * 10;
        const size = input[at + 3];
        const payload = input.subarray(at + 4, at + 4 + size);
        at += 4 + size;
        stream.writeFrame(new MediaFrame(kind, timestamp, payload));
      }
      void stream.playlist();
      void stream.masterPlaylist();
      void stream.resource('fuzz.init.mp4');
      void stream.resource('fuzz.0.m4s');
      stream.onPublishing(false);
      stream.close();
      if (stream.errors > 0) {
        throw new Error(`the HLS segmenter failed on ${stream.errors} frames`);
      }
    },
    allowed: never,
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
