/**
 * Work that runs outside a socket's own callbacks (a handshake's promise, a turn's flush, a
 * timer) fails into the session concerned, never into the process (issue 14): an exception
 * where a session opens, a session whose packet flush throws, a batch of player writes whose
 * native call throws.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmfpClient } from '../../src/client/RtmfpClient.js';
import { type SocketIo, nodeSocketIo } from '../../src/kernels/index.js';
import { FrameWriteBatch, RtmpSocketWriter } from '../../src/protocols/rtmp/RtmpSocketWriter.js';
import { logLines } from '../helpers/inProcess.js';
import { type RtmfpTestServer, startRtmfpServer, until } from '../helpers/rtmfpServer.js';
import { LoopbackTcp } from '../helpers/tcpPairs.js';

describe('failures off the socket callbacks', { timeout: 60_000 }, () => {
  let s: RtmfpTestServer;
  const tcp = new LoopbackTcp();

  before(async () => {
    s = await startRtmfpServer({ 'RTMFP.workers': '0' });
    await tcp.start();
  });

  after(async () => {
    await s.server.stop();
    await tcp.close();
  });

  it('an exception where a session opens ends that handshake only', async () => {
    const rtmfp = s.server.rtmfp!;
    const opened = rtmfp.onSessionOpened.bind(rtmfp);
    let thrown = 0;
    rtmfp.onSessionOpened = (session) => {
      if (thrown++ === 0) {
        throw new Error('deliberate failure in openSession');
      }
      return opened(session);
    };
    try {
      const before = logLines.length;
      const first = new RtmfpClient();
      first.connect(s.rtmfp('live')).catch(() => undefined);
      await until(() => logLines.slice(before).some((l) => /handshake failed: deliberate failure in openSession/.test(l)), 5000, 'the failure logged');
      first.close();
      assert.equal(rtmfp.stats.handshakeErrors, 1);
      const second = new RtmfpClient();
      await second.connect(s.rtmfp('live'));
      second.close();
    } finally {
      rtmfp.onSessionOpened = opened;
    }
  });

  it('a session whose packet flush throws is closed, the others go on', async () => {
    const a = new RtmfpClient();
    const b = new RtmfpClient();
    await a.connect(s.rtmfp('live'));
    await b.connect(s.rtmfp('live'));
    const sessions = [...s.server.rtmfp!.sessions.values()];
    const victim = sessions.find((x) => x.keys.peerId.toString('hex') === a.peerId)!;
    victim.output.flush = () => {
      throw new Error('deliberate failure in a flush');
    };
    await assert.rejects(a.call('anything'), () => true);
    await until(() => victim.closed, 5000, 'the failing session closed');
    await assert.rejects(b.call('nothere'), /Call.Failed/);
    a.close();
    b.close();
  });

  it('a batch of player writes whose native call throws closes those players\' sockets only', async () => {
    const throwing: SocketIo = {
      ...nodeSocketIo,
      batchedTcp: true,
      writeStreams: () => {
        throw new RangeError('deliberate failure in writeStreams');
      },
    };
    const batch = new FrameWriteBatch(throwing);
    const { accepted } = await tcp.pair();
    const { accepted: other } = await tcp.pair();
    const writer = new RtmpSocketWriter(accepted, batch);
    writer.writeFrame(Buffer.from('frame'));
    const closed = new Promise<Error | undefined>((resolve) => accepted.once('error', resolve));
    const error = await closed;
    assert.match(String(error), /deliberate failure in writeStreams/);
    assert.equal(other.destroyed, false, 'another socket is untouched');
    assert.equal(writer.batchCount, 0);
  });
});
