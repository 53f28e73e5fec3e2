import type { FrameObserver, Publication } from '../core/Publication.js';
import { type ServerDirectory, noServers } from './ServerDirectory.js';

/**
 * Who watches a publication's frames from a script. `Publication.observer` stays null unless a
 * script defined `onVideo`/`onAudio`/`onData`/`onFlush`/`onProperties` on it, so a publication
 * nobody scripts costs one null check per frame; with one watcher the observer is that watcher.
 */
export class MediaTaps {
  private readonly taps = new Map<Publication, Map<string, FrameObserver>>();

  /** `servers` marks what scripts send to other servers while they handle a frame as that frame's media. */
  constructor(private readonly servers: ServerDirectory = noServers) {}

  set(publication: Publication, owner: string, observer: FrameObserver | null): void {
    let byOwner = this.taps.get(publication);
    if (observer === null) {
      byOwner?.delete(owner);
    } else {
      if (byOwner === undefined) {
        byOwner = new Map();
        this.taps.set(publication, byOwner);
      }
      byOwner.set(owner, observer);
    }
    if (byOwner === undefined || byOwner.size === 0) {
      this.taps.delete(publication);
      publication.observer = null;
      return;
    }
    const observers = [...byOwner.values()];
    const watch: FrameObserver = observers.length === 1
      ? observers[0]
      : (p, frame) => {
          for (const o of observers) {
            o(p, frame);
          }
        };
    const servers = this.servers;
    publication.observer = servers.withMedia === undefined ? watch : (p, frame) => servers.withMedia?.(p.name, frame, watch, p);
  }

  /** Drops every tap of `owner` (its runtime is stopping). */
  clear(owner: string): void {
    for (const publication of [...this.taps.keys()]) {
      this.set(publication, owner, null);
    }
  }

  has(publication: Publication, owner: string): boolean {
    return this.taps.get(publication)?.has(owner) === true;
  }
}
