/**
 * The packet path's state is per thread (`WireContext`), passed explicitly, never module-level:
 * two contexts, as two threads would have, used interleaved, share no packet counter, no scratch
 * and no parse state, and every packet comes out as it does when its context is used alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PacketKey } from '../../../src/kernels/index.js';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import { AddressOrigin } from '../../../src/protocols/rtmfp/address.js';
import { Congestion } from '../../../src/protocols/rtmfp/flows/Congestion.js';
import { RtmfpRecvFlow } from '../../../src/protocols/rtmfp/flows/RtmfpRecvFlow.js';
import { RtmfpSendFlow } from '../../../src/protocols/rtmfp/flows/RtmfpSendFlow.js';
import type { RtmfpEndpoint } from '../../../src/protocols/rtmfp/RtmfpEndpoint.js';
import { Chunk, Mode } from '../../../src/protocols/rtmfp/RtmfpPacket.js';
import { RtmfpSessionInput } from '../../../src/protocols/rtmfp/RtmfpSessionInput.js';
import { RtmfpSessionOutput } from '../../../src/protocols/rtmfp/RtmfpSessionOutput.js';
import { WireContext } from '../../../src/protocols/WireContext.js';
import { Logger } from '../../../src/util/Logger.js';
import { message } from '../../helpers/flowSim.js';
import { chunksOf, kernels } from './rtmfpTestKit.js';

const TC = Buffer.from('TC\x04\x00', 'latin1');
const key = kernels.createPacketKey(Buffer.alloc(16, 7));
const NOW = 1_000_000;

/** One end of a session whose packets are sealed and kept (`sent`) instead of going to a socket. */
class Endpoint implements RtmfpEndpoint {
  readonly kernels = kernels;
  readonly log = new Logger('test');
  readonly label = 'test';
  readonly keys: { farSsid: number; encryptKey: PacketKey; decryptKey: PacketKey } = { farSsid: 0x01020304, encryptKey: key, decryptKey: key };
  readonly address = { host: '127.0.0.1', port: 1935, origin: AddressOrigin.OBSERVED };
  readonly sendFlows: RtmfpSendFlow[] = [];
  readonly recvFlows = new Map<number, RtmfpRecvFlow>();
  readonly input: RtmfpSessionInput;
  readonly output: RtmfpSessionOutput;
  closed = false;
  /** Per packet sent: the buffer it was built in, its plaintext content and the sealed datagram. */
  readonly sent: Array<{ built: Buffer; content: Buffer; datagram: Buffer }> = [];
  readonly delivered: Buffer[] = [];

  constructor(
    readonly mode: number,
    wire: WireContext,
  ) {
    this.input = new RtmfpSessionInput(this, wire);
    this.output = new RtmfpSessionOutput(this, wire);
  }

  mainFlow(): RtmfpSendFlow | null {
    return null;
  }

  openRecvFlow(flowId: number, metadata: Buffer, returnFlowId: number): RtmfpRecvFlow {
    const flow = new RtmfpRecvFlow(flowId, metadata, returnFlowId, (m) => this.delivered.push(Buffer.from(m)));
    this.recvFlows.set(flowId, flow);
    return flow;
  }

  onRecvFlowComplete(): void {}

  drop(): void {
    this.closed = true;
  }

  sendPacket(packet: Buffer, end: number): void {
    const content = Buffer.from(packet.subarray(RTMFP_CONTENT_OFFSET, end));
    const datagram = Buffer.from(packet.subarray(0, kernels.encryptPacket(key, this.keys.farSsid, packet, end, packet, 0)));
    this.sent.push({ built: packet, content, datagram });
  }

  requestFlush(): void {}

  /** A send flow `flowId` with `count` messages of `size` bytes queued. */
  queue(flowId: number, count: number, size: number): RtmfpSendFlow {
    const flow = new RtmfpSendFlow(flowId, TC, -1, new Congestion());
    this.sendFlows.push(flow);
    for (let i = 0; i < count; i++) {
      flow.write(message(flowId * 1000 + i, size), true, NOW);
    }
    return flow;
  }
}

/** A server side with one flow of messages: what its output sends, with a context of its own. */
const server = (wire: WireContext, flowId: number): { endpoint: Endpoint; messages: Buffer[] } => {
  const endpoint = new Endpoint(Mode.RESPONDER, wire);
  endpoint.queue(flowId, 3, 500 + flowId);
  return { endpoint, messages: [0, 1, 2].map((i) => message(flowId * 1000 + i, 500 + flowId)) };
};

describe('WireContext: the packet path state of one thread', () => {
  it('keeps two threads\' packet numbers, scratch and packets apart when used interleaved', () => {
    // Alone: what each side sends with a context nothing else uses.
    const aloneA = new WireContext();
    const soloA = server(aloneA, 3).endpoint;
    soloA.output.flush(NOW, true);
    const aloneB = new WireContext();
    const soloB = server(aloneB, 5).endpoint;
    soloB.output.flush(NOW, true);
    soloB.output.flush(NOW, true);

    // Interleaved: one flush of A, one of B, then A and B again.
    const [wireA, wireB] = [new WireContext(), new WireContext()];
    const a = server(wireA, 3).endpoint;
    const b = server(wireB, 5).endpoint;
    a.output.flush(NOW, true);
    b.output.flush(NOW, true);
    const afterFirst = wireA.packetNumber;
    b.output.flush(NOW, true);
    assert.equal(wireA.packetNumber, afterFirst, 'B\'s packets do not count on A\'s thread');
    assert.equal(wireA.packetNumber, aloneA.packetNumber);
    assert.equal(wireB.packetNumber, aloneB.packetNumber);
    assert.ok(wireA.packetNumber > 0 && wireB.packetNumber > 0);
    assert.equal(a.sendFlows[0].packetMark, aloneA.packetNumber - 1, 'marked with its own context\'s number (the last round found nothing)');

    // Each built its packets in its own context's scratch (no send batch slot offered here).
    assert.ok(a.sent.length > 0 && b.sent.length > 0);
    assert.ok(a.sent.every((p) => p.built === wireA.packetScratch));
    assert.ok(b.sent.every((p) => p.built === wireB.packetScratch));
    assert.notEqual(wireA.packetScratch, wireB.packetScratch);

    // Byte for byte what the side sends alone.
    assert.deepEqual(a.sent.map((p) => p.content), soloA.sent.map((p) => p.content));
    assert.deepEqual(b.sent.map((p) => p.content), soloB.sent.map((p) => p.content));
    // The flow's options (metadata) go once, in its first packet only.
    const first = chunksOf(Buffer.concat([Buffer.alloc(2), a.sent[0].content]));
    assert.equal(first.chunks[0][0], Chunk.USER_DATA);
    assert.ok(first.chunks[0][1].includes(TC), 'first chunk carries the flow metadata');
    assert.ok(first.chunks.slice(1).every(([type]) => type === Chunk.NEXT_USER_DATA));
  });

  it('parses two threads\' packets interleaved, each into its own context', () => {
    const [serverA, serverB] = [server(new WireContext(), 3), server(new WireContext(), 5)];
    serverA.endpoint.output.flush(NOW, true);
    serverB.endpoint.output.flush(NOW, true);
    const [wireC, wireD] = [new WireContext(), new WireContext()];
    const c = new Endpoint(Mode.INITIATOR, wireC);
    const d = new Endpoint(Mode.INITIATOR, wireD);
    const count = Math.max(serverA.endpoint.sent.length, serverB.endpoint.sent.length);
    for (let i = 0; i < count; i++) {
      const fromA = serverA.endpoint.sent[i];
      if (fromA !== undefined) {
        assert.ok(c.input.receive(Buffer.from(fromA.datagram), NOW));
        assert.equal(wireC.userData.flowId, 3);
      }
      const fromB = serverB.endpoint.sent[i];
      if (fromB !== undefined) {
        assert.ok(d.input.receive(Buffer.from(fromB.datagram), NOW));
        assert.equal(wireD.userData.flowId, 5);
      }
      assert.equal(wireC.userData.flowId, 3, 'D\'s packet left C\'s parse state alone');
    }
    assert.deepEqual(c.delivered, serverA.messages);
    assert.deepEqual(d.delivered, serverB.messages);
    assert.deepEqual([c.input.stats.malformedChunks, d.input.stats.malformedChunks], [0, 0]);
  });

  it('is the only packet-path state: the modules keep none of their own', () => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '../../../src');
    const modules = [
      'protocols/rtmfp/RtmfpSessionOutput.ts',
      'protocols/rtmfp/RtmfpSessionInput.ts',
      'protocols/rtmfp/sessionChunks.ts',
      'protocols/rtmp/RtmpSocketWriter.ts',
      'protocols/rtmp/RtmpDataSession.ts',
      'media/MediaFrame.ts',
    ];
    // Module-level variables, module-level objects made to be written (scratch, cursors, readers, tables), static fields.
    const mutable = /^(export )?(let|var) |^(export )?const \w+(: [^=]+)? = (new |Buffer\.alloc|\{ *pos: )|^ +(private |protected |public )?static (?!readonly)\w+ *[:=]/m;
    for (const module of modules) {
      const text = readFileSync(join(src, module), 'utf8');
      assert.equal(mutable.exec(text)?.[0], undefined, `${module} keeps module-level state`);
    }
  });
});
