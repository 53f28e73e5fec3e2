/**
 * Typed failures (issue 14): errors that cross a thread come back as the class of their code,
 * and a session's end is logged at the level its code says, with the words its code says.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MediaServerError, ProtocolError, RejectionError, causeOf, describeEnd, endLogLevel, errorFromCode, sessionEnd,
} from '../../src/errors.js';

describe('error codes', () => {
  it('rebuilds an error by its code, and marks an unknown code as internal', () => {
    assert.ok(errorFromCode('MS_ERR_RTMFP_PROTOCOL', 'x') instanceof ProtocolError);
    assert.ok(errorFromCode('MS_ERR_PLAY_REJECTED', 'x') instanceof RejectionError);
    const unknown = errorFromCode('NOT_OURS', 'boom');
    assert.equal(unknown.code, 'MS_ERR_INTERNAL');
    assert.match(unknown.message, /boom \(NOT_OURS\)/);
  });

  it('decides how loud a session\'s end is from its code only', () => {
    assert.equal(endLogLevel(new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'bad chunk')), 'warn');
    assert.equal(endLogLevel(new ProtocolError('MS_ERR_RTMFP_PROTOCOL', 'bad flow')), 'warn');
    assert.equal(endLogLevel(sessionEnd('MS_ERR_SESSION_TIMEOUT', 'nothing received')), 'info');
    assert.equal(endLogLevel(sessionEnd('MS_ERR_SUBSCRIBER_TOO_SLOW', 'behind')), 'info');
    assert.equal(endLogLevel(sessionEnd('MS_ERR_SESSION_CLOSED', 'protocol error in the text changes nothing')), 'info');
    assert.equal(endLogLevel(causeOf(new Error('a bug'))), 'error');
    assert.equal(describeEnd(new ProtocolError('MS_ERR_RTMP_PROTOCOL', 'bad chunk')), 'protocol error: bad chunk');
    assert.equal(describeEnd(new RejectionError('MS_ERR_CONNECT_REJECTED', 'go away')), 'connect rejected: go away');
    const mine = new MediaServerError('MS_ERR_SOCKET', 'socket error: EPIPE');
    assert.equal(causeOf(mine), mine, 'our errors keep their code');
  });
});

describe('protocol error codes per protocol', () => {
  it('an RTMFP session\'s NetConnection throws RTMFP\'s code, an RTMP one RTMP\'s', async () => {
    const { FlashNetConnection } = await import('../../src/protocols/flash/FlashNetConnection.js');
    const { Client } = await import('../../src/core/Client.js');
    const codeOf = (protocolName: string): string => {
      const transport = { protocolName, client: new Client(protocolName, '127.0.0.1:1', { writeInvocation() {}, writeMessage() {}, close() {} }) };
      const connection = new FlashNetConnection(transport as never);
      try {
        void connection.onCommand(0, ['createStream', 2, null]);
      } catch (err) {
        return (err as MediaServerError).code;
      }
      return 'none';
    };
    assert.equal(codeOf('RTMFP'), 'MS_ERR_RTMFP_PROTOCOL');
    assert.equal(codeOf('RTMP'), 'MS_ERR_RTMP_PROTOCOL');
  });
});
