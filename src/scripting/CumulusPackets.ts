import type { Client } from '../core/Client.js';
import type { Publication } from '../core/Publication.js';
import { FrameKind } from '../media/MediaFrame.js';
import type { App } from './App.js';
import { quietly } from './AppLoader.js';
import type { AppRuntime } from './AppRuntime.js';
import type { ScriptTaps } from './ScriptTaps.js';

const EVENTS = ['onAudioPacket', 'onVideoPacket', 'onDataPacket'] as const;

/** The tap owner of a publication's Cumulus packet events (one publisher at a time). */
const ownerOf = (publication: Publication): string => `cumulus-packets:${publication.id}`;

/**
 * CumulusServer's per-packet events (mona-api.md §1.8): global functions of the publisher's app,
 * client first: `onAudioPacket(client, publication, time, packet)`, `onVideoPacket(...)` and
 * `onDataPacket(client, publication, name, packet)` (the data message's handler name, then the rest
 * of its AMF bytes). They are called only when the app defines them (checked when the client
 * publishes), from the publication's script tap: after the fan-out, so players never wait for them.
 */
export const watchPackets = (taps: ScriptTaps, runtime: AppRuntime, app: App, client: Client, publication: Publication): void => {
  const defined = new Set(EVENTS.filter((name) => runtime.defines?.(app, name) === true));
  if (defined.size === 0) {
    return;
  }
  taps.set(publication, ownerOf(publication), (pub, frame) => {
    if (pub.publisher !== client) {
      return;
    }
    let name: (typeof EVENTS)[number];
    let args: unknown[];
    if (frame.kind === FrameKind.DATA) {
      const p = frame.payload;
      if (p.length < 3 || p[0] !== 0x02 || p.length < 3 + p.readUInt16BE(1)) {
        return;
      }
      const length = p.readUInt16BE(1);
      name = 'onDataPacket';
      args = [client, pub, p.toString('utf8', 3, 3 + length), p.subarray(3 + length)];
    } else {
      name = frame.kind === FrameKind.VIDEO ? 'onVideoPacket' : 'onAudioPacket';
      args = [client, pub, frame.timestamp, frame.payload];
    }
    if (defined.has(name)) {
      void quietly(app, name, () => runtime.callAppHook(app, name, false, args));
    }
  });
};

/** The publisher left: its packet events end. */
export const unwatchPackets = (taps: ScriptTaps, publication: Publication): void => {
  taps.set(publication, ownerOf(publication), null);
};
