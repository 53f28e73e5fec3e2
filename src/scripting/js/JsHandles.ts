import { Client } from '../../core/Client.js';
import { Group } from '../../core/Group.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import { Recorder } from '../../media/record/Recorder.js';
import type { ScriptApi } from '../ScriptApi.js';
import { type ScriptServer, ServerListView } from '../ServerDirectory.js';
import {
  HANDLE,
  type HandleKind,
  type WireHandle,
  fromWire,
  toWire,
} from './JsWire.js';

/** Live fields a worker may read of each kind of object (`client.ping`...). */
export const FIELDS: Record<Exclude<HandleKind, 'servers'>, ReadonlySet<string>> = {
  client: new Set(['address', 'ping', 'lastReceptionTime', 'properties', 'parameters', 'state']),
  publication: new Set(['running', 'lastTime', 'droppedFrames', 'properties']),
  listener: new Set(['droppedFrames', 'receiveAudio', 'receiveVideo']),
  group: new Set(['size']),
  server: new Set(),
  recorder: new Set(['running']),
};

/**
 * The server's objects as handles: a number per object for as long as a worker may name it. The
 * handle carries the object's fixed fields each time (the worker makes its stand-in from them).
 */
export class Handles {
  private nextId = 1;
  private readonly ids = new WeakMap<object, number>();
  private readonly objects = new Map<number, { object: object; kind: Exclude<HandleKind, 'servers'> }>();
  /** The mesh servers while one value is made wire-ready. */
  private servers: Set<object> | null = null;

  constructor(private readonly api: ScriptApi) {}

  private kindOf(v: object): HandleKind | null {
    if (v instanceof Client) {
      return 'client';
    }
    if (v instanceof Publication) {
      return 'publication';
    }
    if (v instanceof Listener) {
      return 'listener';
    }
    if (v instanceof Group) {
      return 'group';
    }
    if (v instanceof ServerListView) {
      return 'servers';
    }
    if (v instanceof Recorder) {
      return 'recorder';
    }
    if (Array.isArray(v) || v instanceof Uint8Array) {
      return null;
    }
    // A mesh server is whatever the directory lists (the mesh's own class, or any object): looked up once per value sent.
    this.servers ??= new Set(this.api.servers.list());
    return this.servers.has(v) ? 'server' : null;
  }

  handle(v: object): WireHandle | undefined {
    const kind = this.ids.has(v) ? this.objects.get(this.ids.get(v)!)!.kind : this.kindOf(v);
    if (kind === null) {
      return undefined;
    }
    if (kind === 'servers') {
      return { [HANDLE]: 'servers', id: 0, s: { which: (v as ServerListView).which } };
    }
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(v, id);
      this.objects.set(id, { object: v, kind });
    }
    return { [HANDLE]: kind, id, s: this.fixed(kind, v) };
  }

  private fixed(kind: Exclude<HandleKind, 'servers'>, v: object): Record<string, unknown> {
    switch (kind) {
      case 'client': {
        const c = v as Client;
        const writer = { raw: c.writer.writeRaw !== undefined, sub: c.writer.newWriter !== undefined };
        return { id: c.id, rawId: new Uint8Array(c.rawId), path: c.path, query: c.query, protocol: c.protocol, writer };
      }
      case 'publication': {
        const p = v as Publication;
        return { name: p.name, scripted: p.publisher === null };
      }
      case 'listener': {
        const l = v as Listener;
        return { client: l.client === null ? null : this.handle(l.client), publication: this.handle(l.publication), parameters: { ...l.parameters } };
      }
      case 'group': {
        const g = v as Group;
        return { id: g.id, rawId: new Uint8Array(g.rawId) };
      }
      case 'server': {
        const s = v as ScriptServer;
        return { address: s.address, host: s.host, port: s.port, isTarget: s.isTarget, configs: { ...s.configs } };
      }
      case 'recorder': {
        return { file: (v as Recorder).file };
      }
    }
  }

  resolve(h: WireHandle): unknown {
    if (h[HANDLE] === 'servers') {
      const which = (h.s?.which ?? 'all') as ServerListView['which'];
      return new ServerListView(this.api.servers, which);
    }
    return this.objects.get(h.id)?.object ?? null;
  }

  get(id: number): { object: object; kind: Exclude<HandleKind, 'servers'> } | undefined {
    return this.objects.get(id);
  }

  toWire(value: unknown): unknown {
    try {
      return toWire(value, (v) => this.handle(v));
    } finally {
      this.servers = null;
    }
  }

  fromWire(value: unknown): unknown {
    return fromWire(value, (h) => this.resolve(h));
  }

  /** Forgets `object`; its handle, if it had one. */
  release(object: object): number | null {
    const id = this.ids.get(object);
    if (id === undefined) {
      return null;
    }
    this.ids.delete(object);
    this.objects.delete(id);
    return id;
  }

  /** Forgets the objects that are gone from the server (closed clients, stopped publications...); their handles. */
  sweep(): number[] {
    const gone: number[] = [];
    let servers: readonly ScriptServer[] | null = null;
    for (const [id, { object, kind }] of this.objects) {
      let dead: boolean;
      switch (kind) {
        case 'client': {
          dead = (object as Client).state === 'closed';
          break;
        }
        case 'publication': {
          const p = object as Publication;
          dead = !p.running && this.api.core.publication(p.name) !== p;
          break;
        }
        case 'listener': {
          dead = (object as Listener).closed;
          break;
        }
        case 'group': {
          const g = object as Group;
          dead = g.size === 0 && this.api.groups.get(g.id) !== g;
          break;
        }
        case 'server': {
          servers ??= this.api.servers.list();
          dead = !servers.includes(object as ScriptServer);
          break;
        }
        case 'recorder': {
          dead = !(object as Recorder).running;
          break;
        }
      }
      if (dead) {
        this.objects.delete(id);
        this.ids.delete(object);
        gone.push(id);
      }
    }
    return gone;
  }
}
