import type { MediaFrame } from './MediaFrame.js';

/**
 * Where the frames of one publication go on one thread (the one output model of issue 11):
 * the fan-out to this thread's subscribers (`FanOut`: RTMP players in the turn batch, RTMFP
 * sessions), a media worker that has subscribers (one post per frame per worker), a script tap
 * (after the fan-out, so a slow `onVideo` never delays players), a mesh relay... Each output
 * serializes a frame at most once per wire format (`MediaFrame.wire`) and owns its drop policy.
 */
export interface MediaOutput {
  /** One frame, in publication order, after the feed's cache took it. Must not throw. */
  writeFrame(frame: MediaFrame): void;
  /** The publication got a publisher (`running`) or lost it: drop policies start over. */
  onPublishing(running: boolean): void;
}
