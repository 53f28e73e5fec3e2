import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AmfWriter, decodeAmf0, encodeAmf0 } from '../amf/index.js';
import type { Config } from '../config/Config.js';
import type { Client } from '../core/Client.js';
import type { Core } from '../core/Core.js';
import type { Group } from '../core/Group.js';
import type { Listener } from '../core/Listener.js';
import type { Publication } from '../core/Publication.js';
import { FrameKind, MediaFrame } from '../media/MediaFrame.js';
import { Logger } from '../util/Logger.js';
import type { App } from './App.js';
import { PersistentData } from './data/PersistentData.js';
import type { ScriptServer, ServerDirectory } from './ServerDirectory.js';

const log = new Logger('script');

/** Collections scripts can read (live views, never copies). */
export type CollectionSource =
  | 'clients'
  | 'publications'
  | 'groups'
  | 'servers'
  | 'servers.initiators'
  | 'servers.targets'
  | 'listeners'
  | 'members'
  | 'appclients';

export interface Qos {
  lostRate: number;
  byteRate: number;
  latency: number;
  lastSendingTime: number;
  droppedFrames: number;
}

/** A config value as scripts get it: "true"/"false"/"null" and numbers converted (mona-api.md §1.4). */
export const configValue = (raw: string): string | number | boolean | null => {
  if (raw === 'true' || raw === 'false') {
    return raw === 'true';
  }
  if (raw === 'null') {
    return null;
  }
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
};

/** `mona.configs`: every key flat (`configs["RTMP.port"]`) and nested (`configs.RTMP.port`). */
export const configsTable = (values: Readonly<Record<string, string>>): Record<string, unknown> => {
  const table: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(values)) {
    const value = configValue(raw);
    table[key] = value;
    const parts = key.split('.');
    let node = table;
    for (let i = 0; i < parts.length - 1; i++) {
      const existing = node[parts[i]];
      if (typeof existing !== 'object' || existing === null) {
        node[parts[i]] = {};
      }
      node = node[parts[i]] as Record<string, unknown>;
    }
    if (parts.length > 1) {
      node[parts[parts.length - 1]] = value;
    }
  }
  return table;
};

/**
 * The operations both runtimes (Lua and JS) expose, on the core objects themselves. One
 * implementation, so `mona:publish` or `pushVideo` behave the same whatever the script language.
 */
export class ScriptApi {
  /** Which app each connected client belongs to (set when onConnection accepted it). */
  readonly clientApps = new Map<Client, App>();
  /**
   * NetGroups by 64-hex ID: the core's registry, where the RTMFP layer finds the members it
   * introduces, virtual members that `mona:joinGroup` adds (for peers on other servers) included.
   */
  get groups(): Map<string, Group> {
    return this.core.groups;
  }

  /** The persistent data scripts see as `data` (MonaServer's), in application.dataDir. */
  readonly data: PersistentData;

  constructor(
    readonly core: Core,
    readonly config: Config,
    readonly servers: ServerDirectory,
  ) {
    this.data = new PersistentData(config.application.dataDir);
  }

  get wwwDir(): string {
    return join(this.config.application.dir, 'www');
  }

  /** `mona:publish(name)`: a publication without a client, or null when the name is taken. */
  publish(name: string, app: App | null): Publication | null {
    if (name === '' || this.core.publication(name)?.running === true) {
      return null;
    }
    this.core.publish(null, name).catch((err: unknown) => log.warn(`mona:publish(${name}): ${String(err)}`));
    const publication = this.core.publication(name);
    if (publication?.running !== true) {
      return null;
    }
    app?.publications.add(publication);
    return publication;
  }

  /** `publication:close()`: only for publications a script made. */
  closePublication(publication: Publication): void {
    if (publication.publisher !== null) {
      throw new Error(`publication ${publication.name} belongs to a client: only mona:publish publications can be closed`);
    }
    this.core.unpublish(publication);
  }

  /** `pushVideo`/`pushAudio`: delivered to listeners at once (no flush needed). */
  push(publication: Publication, kind: FrameKind, time: number, bytes: Buffer): void {
    if (!publication.running || publication.publisher !== null) {
      if (publication.publisher !== null) {
        throw new Error(`publication ${publication.name} belongs to a client: push into mona:publish publications only`);
      }
      return;
    }
    publication.push(new MediaFrame(kind, time >>> 0, bytes));
  }

  /**
   * `pushData(...)`: one string is taken as an AMF payload as it is, other values are AMF0-encoded.
   * A lone table has no handler name, which players cannot read (ffmpeg stops on it): it goes as
   * `onMetaData`. That is what the seed's relay pushes (`publication:onData(name, packet)` gives the
   * metadata table as `packet`), so relayed streams keep their metadata.
   */
  pushData(publication: Publication, values: readonly unknown[], time: number): void {
    const first = values[0];
    const lone = values.length === 1;
    const payload = !lone
      ? encodeAmf0(...values)
      : Buffer.isBuffer(first)
        ? first
        : typeof first === 'string'
          ? Buffer.from(first, 'utf8')
          : typeof first === 'object' && first !== null && !(first instanceof Date)
            ? encodeAmf0('onMetaData', first)
            : encodeAmf0(first);
    this.push(publication, FrameKind.DATA, time, payload);
  }

  /**
   * MonaServer's QOS object. For a publication (and its listeners): the byte rate of `kind` over
   * the last seconds, the publisher's round-trip time as latency and lost rate, dropped frames;
   * for a writer (`client.writer.qos`) and a listener: the client's round-trip time and lost rate
   * (`Client.traffic.lostRate`: RTMFP's share of fragments lost over the last seconds, 0 on TCP).
   */
  qos(publication: Publication | null, kind: 'audio' | 'video' | 'data' | null = null, client: Client | null = null): Qos {
    const rates = publication?.meter.rates() ?? [0, 0, 0, 0];
    const byteRate = kind === 'audio' ? rates[0] : kind === 'video' ? rates[1] : kind === 'data' ? rates[2] : rates[0] + rates[1] + rates[2];
    const pinger = client ?? publication?.publisher ?? null;
    return {
      lostRate: pinger?.traffic.lostRate ?? 0,
      byteRate: Math.round(byteRate),
      latency: pinger?.ping ?? 0,
      lastSendingTime: publication?.lastTime ?? 0,
      droppedFrames: publication?.droppedFrames ?? 0,
    };
  }

  collection(source: CollectionSource, owner: unknown): Array<[unknown, unknown]> {
    switch (source) {
      case 'clients': {
        return [...this.core.clients].filter(([, c]) => c.state === 'connected');
      }
      case 'publications': {
        return [...this.core.publications].filter(([, p]) => p.running);
      }
      case 'groups': {
        return [...this.groups];
      }
      case 'servers':
      case 'servers.initiators':
      case 'servers.targets': {
        return this.serverList(source).map((s) => [s.address, s]);
      }
      case 'listeners': {
        const listeners = (owner as Publication | null)?.listeners ?? new Set<Listener>();
        return [...listeners].filter((l) => l.client !== null && !l.closed).map((l) => [l.client, l]);
      }
      case 'members': {
        const group = owner as Group | null;
        return group === null ? [] : [...group.members].map(([id, m]) => [id, m.client ?? m]);
      }
      case 'appclients': {
        return [...this.clientApps].filter(([c, app]) => app === owner && c.state === 'connected').map(([c]) => [c.id, c]);
      }
    }
  }

  serverList(source: CollectionSource): readonly ScriptServer[] {
    const all = this.servers.list();
    return source === 'servers' ? all : all.filter((s) => s.isTarget === (source === 'servers.targets'));
  }

  /** `coll[key]`: by key, by 1-based position for a number, or by raw 32-byte id for clients/groups. */
  collectionGet(source: CollectionSource, owner: unknown, key: unknown): unknown {
    if (source === 'clients' && Buffer.isBuffer(key) && key.length === 32) {
      key = key.toString('hex');
    }
    if (source === 'clients' || source === 'publications' || source === 'groups') {
      if (typeof key === 'string') {
        const value = source === 'clients' ? this.core.clients.get(key) : source === 'publications' ? this.core.publication(key) : this.groups.get(key);
        if (value !== undefined && (source !== 'publications' || (value as Publication).running)) {
          return value;
        }
      }
    }
    const entries = this.collection(source, owner);
    if (typeof key === 'number' && Number.isInteger(key)) {
      return entries[key - 1]?.[1];
    }
    const found = entries.find(([k]) => k === key)?.[1];
    if (found === undefined && typeof key === 'string' && source.startsWith('servers')) {
      // `mona.servers["host:port"]` also finds a server by the publicHost it announced (mona-api.md §1.5).
      return this.serverList(source).find((s) => s.configs.publicHost === key);
    }
    return found;
  }

  /** `toAMF(...)`: values as an AMF0 stream where strings and objects switch to AMF3 (as NetConnection does). */
  toAmf(values: readonly unknown[]): Buffer {
    const writer = new AmfWriter();
    for (const value of values) {
      if (value === null || value === undefined || typeof value === 'boolean' || (typeof value === 'number' && !Number.isInteger(value))) {
        writer.writeAmf0(value);
      } else {
        writer.writeAmf0SwitchToAmf3(value);
      }
    }
    return writer.toBuffer();
  }

  toAmf0(values: readonly unknown[]): Buffer {
    return encodeAmf0(...values);
  }

  /** `fromAMF(data)`: every value; strings as raw bytes so binary survives. */
  fromAmf(data: Buffer): unknown[] {
    return decodeAmf0(data, { binaryStrings: true });
  }

  toJson(values: readonly unknown[]): string {
    const replacer = (_key: string, value: unknown): unknown => {
      if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
        return Buffer.from((value as { data: number[] }).data).toString('latin1');
      }
      return value;
    };
    return JSON.stringify(values.length === 1 ? values[0] : values, replacer);
  }

  fromJson(text: string): unknown {
    return JSON.parse(text) as unknown;
  }

  digest(algorithm: 'md5' | 'sha256', values: readonly Buffer[]): Buffer[] {
    return values.map((v) => createHash(algorithm).update(v).digest());
  }

  /** `split(expr, separators)`: tokens between any of the separator characters, empty ones skipped. */
  split(expression: string, separators: string): string[] {
    if (separators === '') {
      return [expression];
    }
    const out: string[] = [];
    let token = '';
    for (const ch of expression) {
      if (separators.includes(ch)) {
        if (token !== '') {
          out.push(token);
        }
        token = '';
      } else {
        token += ch;
      }
    }
    if (token !== '') {
      out.push(token);
    }
    return out;
  }

  /** `absolutePath(path)`: the folder of the app at `path` on disk, with a trailing slash. */
  absolutePath(path: string): string {
    const clean = path.split('/').filter((s) => s !== '' && s !== '..' && s !== '.').join('/');
    return `${join(this.wwwDir, clean)}/`;
  }
}
