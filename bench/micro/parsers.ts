/**
 * The wire parsers on the receive path, TypeScript only (they have no native twin: the `native`
 * column stays empty): the RTMP chunk reader on what a publisher sends (a 1 Mbit/s second of
 * video and audio, chunk size 4096), AMF0 decoding of a `connect` command, and an RTMFP packet's
 * header and chunks (an ack, and a full user-data packet). Outputs are checked before timing.
 */
import assert from 'node:assert/strict';
import { decodeAmf0, encodeAmf0 } from '../../src/amf/index.js';
import { RtmpChunkReader } from '../../src/protocols/rtmp/RtmpChunkReader.js';
import { encodeMessage } from '../../src/protocols/rtmp/RtmpChunkWriter.js';
import { Chunk, ChunkIterator, HeaderFlag, Mode, PacketHeader, readPacketHeader, writePacketHeader } from '../../src/protocols/rtmfp/RtmfpPacket.js';
import { AckChunk, UserDataChunk, readRangeAck, readUserData, writeRangeAck, writeUserDataHeader } from '../../src/protocols/rtmfp/sessionChunks.js';
import type { MicroCase } from './microBench.js';
import { isMain, parseOptions, runMicro } from './microBench.js';

/** One second of what ffmpeg publishes at 1 Mbit/s: 25 video frames (a keyframe first), 43 audio frames. */
function publisherSecond(): { bytes: Buffer; messages: number } {
  const parts: Buffer[] = [];
  let messages = 0;
  for (let i = 0; i < 25; i++) {
    parts.push(encodeMessage(6, 9, 1, i * 40, Buffer.alloc(i === 0 ? 37_000 : 3_700, i), 4096));
    messages++;
    for (let a = 0; a < 2; a++) {
      parts.push(encodeMessage(4, 8, 1, i * 40 + a * 23, Buffer.alloc(370, a), 4096));
      messages++;
    }
  }
  return { bytes: Buffer.concat(parts), messages };
}

function rtmpCase(): MicroCase {
  const { bytes, messages } = publisherSecond();
  let count = 0;
  const run = (): void => {
    const reader = new RtmpChunkReader(() => count++);
    reader.chunkSize = 4096;
    // As TCP delivers it: 64 KiB reads.
    for (let at = 0; at < bytes.length; at += 65536) {
      reader.push(bytes.subarray(at, Math.min(bytes.length, at + 65536)));
    }
  };
  run();
  assert.equal(count, messages);
  return { name: `RTMP chunk reader, 1 s at 1 Mbit/s (${messages} messages)`, units: messages, unitName: 'message', ts: run, native: null };
}

function amfCase(): MicroCase {
  const connect = encodeAmf0('connect', 1, {
    app: 'live', flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)', swfUrl: 'rtmp://127.0.0.1/live', tcUrl: 'rtmp://127.0.0.1/live',
    fpad: false, capabilities: 239, audioCodecs: 3575, videoCodecs: 252, videoFunction: 1, objectEncoding: 0,
  });
  let sink = 0;
  const run = (): void => {
    sink += decodeAmf0(connect).length;
  };
  run();
  assert.equal(sink, 3);
  return { name: `AMF0 connect command (${connect.length} B)`, units: 1, unitName: 'command', ts: run, native: null };
}

function rtmfpCases(): MicroCase[] {
  const header = new PacketHeader();
  const chunks = new ChunkIterator();
  const userData = new UserDataChunk();
  const ack = new AckChunk();
  const ackPacket = Buffer.alloc(64);
  let end = writePacketHeader(ackPacket, 6, HeaderFlag.TIME_CRITICAL | Mode.INITIATOR, 1234, 99);
  end = writeRangeAck(ackPacket, end, 3, 64, 1000, [1003], [1005], 1);
  const dataPacket = Buffer.alloc(1200);
  let dataEnd = writePacketHeader(dataPacket, 6, HeaderFlag.TIME_CRITICAL_REVERSE | Mode.RESPONDER, 1234, 99);
  dataEnd = writeUserDataHeader(dataPacket, dataEnd, 0, 5, 100_000, 2, null, 1140);
  dataEnd += 1140;
  const walk = (packet: Buffer, packetEnd: number): number => {
    let found = 0;
    if (!readPacketHeader(packet, 6, packetEnd, header)) {
      return -1;
    }
    chunks.reset(packet, header.chunksStart, packetEnd);
    while (chunks.next()) {
      if (chunks.type === Chunk.RANGE_ACK && readRangeAck(packet, chunks.start, chunks.payloadEnd, ack)) {
        found += ack.rangeCount + 1;
      } else if (chunks.type === Chunk.USER_DATA && readUserData(packet, chunks.start, chunks.payloadEnd, userData)) {
        found += userData.dataEnd - userData.dataStart;
      }
    }
    return found;
  };
  assert.equal(walk(ackPacket, end), 2);
  assert.equal(walk(dataPacket, dataEnd), 1140);
  let sink = 0;
  return [
    { name: 'RTMFP packet: header + range ack', units: 1, unitName: 'packet', ts: () => (sink += walk(ackPacket, end)), native: null },
    { name: 'RTMFP packet: header + 1140 B user data', units: 1, unitName: 'packet', ts: () => (sink += walk(dataPacket, dataEnd)), native: null },
  ];
}

export function main(argv: string[]): void {
  runMicro('parsers', [rtmpCase(), amfCase(), ...rtmfpCases()], parseOptions(argv));
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2));
}
