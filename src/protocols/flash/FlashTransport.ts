import type { Client } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import type { SessionCause } from '../../errors.js';
import type { MediaCommands } from './SessionMedia.js';
import type { Logger } from '../../util/Logger.js';

/**
 * What the NetConnection/NetStream logic shared by RTMP and RTMFP needs from a protocol session
 * (MonaServer's FlashWriter seam): where commands, data, user control events and media go for a
 * given NetStream id (0 = the NetConnection). RTMP writes chunks on its socket; RTMFP writes on
 * the flows associated with the stream.
 */
export interface FlashTransport {
  readonly client: Client;
  readonly core: Core;
  readonly log: Logger;
  readonly isClosed: boolean;
  /** "RTMP"/"RTMFP", for statuses and logs. */
  readonly protocolName: string;
  /** Object encoding negotiated by `connect` (0 or 3): decides the command message type. */
  objectEncoding: number;

  /** An AMF0 command payload (`_result`, `onStatus`...) on stream `streamId`. */
  writeCommand(streamId: number, payload: Buffer): void;
  /** An AMF0 data message payload (`|RtmpSampleAccess`...) on stream `streamId`. */
  writeData(streamId: number, payload: Buffer): void;
  /** User control event (StreamBegin, StreamIsRecorded...) about `streamId`. */
  writeUserControl(event: number, streamId: number): void;
  /**
   * Where its NetStreams' media is played and published: the session's data half, on this thread or
   * in a media worker. A subscriber that stays behind past `media.subscriberTimeout` closes the
   * session (MS_ERR_SUBSCRIBER_TOO_SLOW).
   */
  readonly media: MediaCommands;
  /** Ends the session with `cause`; `graceful` lets written bytes go out first. */
  end(cause: SessionCause, graceful?: boolean): void;
  /** Runs when `connect` arrives, before the hook (RTMP sends window size, bandwidth, chunk size here). */
  onConnectStart?(): void;
}
