import type { MediaFrame } from '../media/MediaFrame.js';

/**
 * The media frame a script is handling right now (`publication:onVideo` and friends): what it
 * sends to other servers meanwhile carries that frame, and a slow link may drop it (MediaGate).
 * The scripting layer sets it around its media hooks; outside them it is empty and every message
 * is control.
 */
export class MediaScope {
  publication: string | null = null;
  frame: MediaFrame | null = null;

  /** Runs `fn(arg, frame)` with `frame` of `publication` as the scope (a nested scope restores the outer one). */
  run<T>(publication: string, frame: MediaFrame, fn: (arg: T, frame: MediaFrame) => void, arg: T): void {
    const outerPublication = this.publication;
    const outerFrame = this.frame;
    this.publication = publication;
    this.frame = frame;
    try {
      fn(arg, frame);
    } finally {
      this.publication = outerPublication;
      this.frame = outerFrame;
    }
  }
}
