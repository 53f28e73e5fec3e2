import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import type { Listener, ListenerOwner } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { errorMessage } from '../../errors.js';
import { Logger } from '../../util/Logger.js';
import { HlsStream, type HlsOptions } from '../hls/index.js';
import { statusOf } from '../HttpApps.js';
import type { RequestPath } from '../requestPath.js';
import { sendText } from '../responses.js';
import type { LiveFormat } from './LiveStreams.js';

const log = new Logger('hls');

/** The query parameter that names a viewer's HLS session in every URI of its playlists. */
const SESSION = 'hls_session';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const SEGMENT_TYPE = 'video/iso.segment';

/** One HLS viewer: a client of the app (`client.protocol` "HLS") with its listener, while it keeps fetching. */
interface HlsSession {
  readonly id: string;
  readonly client: Client;
  readonly listener: Listener;
  readonly entry: HlsEntry;
  lastSeen: number;
}

/** The HLS output of one publication, while it has sessions. */
interface HlsEntry {
  readonly publication: Publication;
  readonly stream: HlsStream;
  sessions: number;
}

const noOwner: ListenerOwner = { onPublisherChange: () => undefined };

/**
 * HLS of every publication (`<path>/<name>.m3u8`): an `HlsStream` (fMP4/CMAF segments in memory)
 * becomes an output of the publication's feed on the first request, primed with its GOP cache so
 * the first segment ends at the next keyframe. The first request goes through `onConnection` and
 * `onSubscribe` like any player and gets a master playlist whose media playlist, init segment,
 * segments and parts all carry the viewer's session; a session unseen for a few target
 * durations is unsubscribed, and the stream leaves the feed with its last session.
 */
export class HlsPlayback implements LiveFormat {
  private readonly sessions = new Map<string, HlsSession>();
  private readonly entries = new Map<string, HlsEntry>();
  private readonly janitor: NodeJS.Timeout;

  constructor(
    private readonly core: Core,
    private readonly options: HlsOptions,
  ) {
    this.janitor = setInterval(() => this.expire(Date.now()), 1000);
    this.janitor.unref();
  }

  private get idleMs(): number {
    return Math.max(10_000, 4000 * this.options.segmentDuration);
  }

  async serve(req: IncomingMessage, res: ServerResponse, target: RequestPath, connection: Client): Promise<boolean> {
    const file = target.file;
    const isPlaylist = file.endsWith('.m3u8') && file.length > 5;
    if (!isPlaylist && !file.endsWith('.m4s') && !file.endsWith('.mp4')) {
      return false;
    }
    const sessionId = target.parameters[SESSION];
    if (sessionId === undefined) {
      if (!isPlaylist) {
        return false;
      }
      await this.open(req, res, target, connection, file.slice(0, -5));
      return true;
    }
    const session = this.sessions.get(sessionId);
    if (session === undefined) {
      sendText(res, 404, 'HLS session expired: reload the playlist');
      return true;
    }
    session.lastSeen = Date.now();
    const stream = session.entry.stream;
    if (isPlaylist) {
      await this.mediaPlaylist(req, res, session, target);
      return true;
    }
    const bytes = stream.resource(file);
    if (bytes === null) {
      sendText(res, 404, `${file} is not in the window`);
      return true;
    }
    session.client.traffic.sent += bytes.length;
    res.writeHead(200, { 'Content-Type': file.endsWith('.mp4') ? 'video/mp4' : SEGMENT_TYPE, 'Content-Length': bytes.length, 'Cache-Control': 'max-age=60' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return true;
  }

  /** A new viewer: hooks, then the master playlist that names its session. */
  private async open(req: IncomingMessage, res: ServerResponse, target: RequestPath, connection: Client, name: string): Promise<void> {
    const client = new Client('HLS', connection.address, { writeInvocation: () => undefined, writeMessage: () => undefined, close: () => undefined });
    client.path = target.path;
    client.query = target.query;
    client.properties = { ...connection.properties };
    let listener: Listener;
    try {
      await this.core.connect(client, [{ ...target.parameters }]);
      listener = await this.core.subscribe(client, target.query === '' ? name : `${name}?${target.query}`, noOwner);
    } catch (err) {
      this.core.disconnect(client);
      sendText(res, statusOf(err), errorMessage(err));
      return;
    }
    const entry = this.entryFor(listener.publication);
    const session: HlsSession = { id: randomBytes(12).toString('base64url'), client, listener, entry, lastSeen: Date.now() };
    entry.sessions++;
    this.sessions.set(session.id, session);
    log.info(`HLS ${client.address} plays ${name} (session ${session.id})`);
    // The first segment of a stream just started ends at its next keyframe (a viewer may also come before the publisher).
    if (entry.stream.masterPlaylist() === null) {
      await entry.stream.waitFor(0, undefined, Math.max(10_000, 4000 * this.options.segmentDuration));
    }
    const master = entry.stream.masterPlaylist(`${encodeURIComponent(name)}.m3u8?${SESSION}=${session.id}`);
    if (master === null) {
      sendText(res, 404, entry.stream.unsupportedCodec !== null ? `${name}: ${entry.stream.unsupportedCodec} cannot go in HLS` : `${name} has no media yet`);
      return;
    }
    this.sendPlaylist(req, res, master);
  }

  private async mediaPlaylist(req: IncomingMessage, res: ServerResponse, session: HlsSession, target: RequestPath): Promise<void> {
    const stream = session.entry.stream;
    const msn = target.parameters._HLS_msn;
    if (msn !== undefined) {
      const part = target.parameters._HLS_part;
      const ok = /^\d+$/.test(msn) && (part === undefined || /^\d+$/.test(part));
      if (!ok) {
        sendText(res, 400, 'bad _HLS_msn or _HLS_part');
        return;
      }
      await stream.waitFor(Number(msn), part === undefined ? undefined : Number(part));
      session.lastSeen = Date.now();
    }
    let playlist = stream.playlist();
    if (playlist === null) {
      sendText(res, 404, 'no segment yet');
      return;
    }
    if (!session.entry.publication.running) {
      // The publisher left: the window is all there is (players play it out and stop).
      playlist = `${playlist.split('\n').filter((l) => !l.startsWith('#EXT-X-PRELOAD-HINT')).join('\n').trimEnd()}\n#EXT-X-ENDLIST\n`;
    }
    this.sendPlaylist(req, res, withSession(playlist, session.id));
  }

  private sendPlaylist(req: IncomingMessage, res: ServerResponse, text: string): void {
    const body = Buffer.from(text, 'utf8');
    res.writeHead(200, { 'Content-Type': PLAYLIST_TYPE, 'Content-Length': body.length, 'Cache-Control': 'no-cache, no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private entryFor(publication: Publication): HlsEntry {
    let entry = this.entries.get(publication.name);
    if (entry !== undefined && entry.publication === publication) {
      return entry;
    }
    const stream = new HlsStream(publication.name, this.options);
    if (publication.running) {
      stream.onPublishing(true);
      for (const frame of publication.feed.cache.snapshot()) {
        stream.writeFrame(frame);
      }
    }
    publication.feed.add(stream);
    entry = { publication, stream, sessions: 0 };
    this.entries.set(publication.name, entry);
    return entry;
  }

  private expire(now: number): void {
    for (const session of this.sessions.values()) {
      if (now - session.lastSeen > this.idleMs) {
        this.release(session);
      }
    }
  }

  private release(session: HlsSession): void {
    if (!this.sessions.delete(session.id)) {
      return;
    }
    log.info(`HLS ${session.client.address}: session ${session.id} of ${session.entry.publication.name} ended`);
    try {
      this.core.unsubscribe(session.listener);
    } finally {
      this.core.disconnect(session.client);
    }
    const entry = session.entry;
    if (--entry.sessions === 0) {
      entry.publication.feed.remove(entry.stream);
      entry.stream.close();
      if (this.entries.get(entry.publication.name) === entry) {
        this.entries.delete(entry.publication.name);
      }
    }
  }

  close(): void {
    clearInterval(this.janitor);
    for (const session of [...this.sessions.values()]) {
      this.release(session);
    }
  }
}

/** Every URI of a playlist carries the session: segment lines and the URI="..." attributes. */
export const withSession = (playlist: string, id: string): string =>
  playlist
    .split('\n')
    .map((line) => {
      if (line === '') {
        return line;
      }
      if (!line.startsWith('#')) {
        return `${line}${line.includes('?') ? '&' : '?'}${SESSION}=${id}`;
      }
      return line.replace(/URI="([^"?]+)(\?[^"]*)?"/g, (_m, uri: string, q: string | undefined) => `URI="${uri}${q === undefined ? '?' : `${q}&`}${SESSION}=${id}"`);
    })
    .join('\n');
