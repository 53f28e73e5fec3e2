import { Publication } from '../../core/Publication.js';
import { ScriptMediaWriter } from '../ScriptMediaWriter.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { type HostFunction, type LuaArgs, LuaMulti } from './LuaVm.js';

interface Writers {
  byId: Map<number, ScriptMediaWriter>;
  next: number;
}

const registries = new WeakMap<LuaRuntime, Writers>();

/**
 * `mona:createMediaWriter(type)` for Lua (ScriptMediaWriter). The prelude makes the writer object:
 * a table of kind "mediaWriter" whose handle is negative, so it never names a core object; when
 * Lua collects it, its handle is handed back with the next `createMediaWriter` and the writer is
 * forgotten (a recording it started goes on until its publisher leaves).
 */
export const luaMediaWriters = (rt: LuaRuntime): { create: HostFunction; methods: Record<string, HostFunction> } => {
  let writers = registries.get(rt);
  if (writers === undefined) {
    writers = { byId: new Map(), next: -1 };
    registries.set(rt, writers);
  }
  const registry = writers;
  const writer = (a: LuaArgs): ScriptMediaWriter => {
    const w = registry.byId.get(a.integer(1));
    if (w === undefined) {
      throw new Error('not a media writer');
    }
    return w;
  };
  return {
    create: (a) => {
      const dead = rt.values.read(2);
      if (Array.isArray(dead)) {
        for (const id of dead) {
          registry.byId.delete(Number(id));
        }
      }
      const w = new ScriptMediaWriter(a.string(1, 'flv'), rt.ctx.api.core.recordings);
      const id = registry.next--;
      registry.byId.set(id, w);
      return new LuaMulti([id, w.format]);
    },
    methods: {
      write: (a) => writer(a).write(a.integer(2), a.integer(3), a.bytes(4)),
      flush: (a) => writer(a).flush(),
      record: (a) => {
        const publication = rt.values.read(2);
        if (!(publication instanceof Publication)) {
          throw new Error('mediaWriter:record(publication, name): not a publication');
        }
        return writer(a).record(publication, a.string(3));
      },
      recording: (a) => writer(a).recording,
      close: (a) => writer(a).close(),
    },
  };
};
