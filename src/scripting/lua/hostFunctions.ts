import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { Client } from '../../core/Client.js';
import { Group } from '../../core/Group.js';
import { Listener } from '../../core/Listener.js';
import { Publication } from '../../core/Publication.js';
import type { LogLevel } from '../../util/Logger.js';
import type { App } from '../App.js';
import { type CollectionSource, configsTable } from '../ScriptApi.js';
import { type ScriptServer, broadcastTo } from '../ServerDirectory.js';
import { luaSocketField } from '../sockets/LuaSockets.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { type HostFunction, type LuaArgs, LuaMulti, LuaType } from './LuaVm.js';
import { compatChunk } from './luaCompat.js';
import { IO_PRELUDE, fileFunctions } from './luaFiles.js';
import { DATA_PRELUDE, dataFunctions } from './luaPersistentData.js';
import { monaFunctions, objectMethods } from './monaFunctions.js';
import { luaWriterField, setLuaWriterField } from './luaWriters.js';
import { MONA_PRELUDE, PRELUDE } from './prelude.js';

const PRELUDE_EXPORTS = ['newObject', 'collection', 'merge', 'newApp', 'runMain', 'defines', 'clearApp', 'appHook', 'objectHook', 'typedHook', 'gc', 'setLogLevel', 'H', 'COLL'];

/** Looks `file` up in the app folder, then each parent's, then relative to the application dir. */
const findFile = (app: App, file: string, applicationDir: string): string | null => {
  const candidates: string[] = [];
  if (isAbsolute(file)) {
    candidates.push(file);
  } else {
    for (const a of app.lineage()) {
      candidates.push(join(a.dir, file));
    }
    candidates.push(join(applicationDir, file));
  }
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
};

/** The JS functions the prelude calls (object fields, collections, apps, logging). */
const coreFunctions = (rt: LuaRuntime): Record<string, HostFunction> => {
  const { api, log } = rt.ctx;
  const ownerOf = (source: CollectionSource, id: number): unknown =>
    source === 'appclients' ? rt.ctx.appById(id) ?? null : rt.objectById(id) ?? null;
  const source = (a: LuaArgs): CollectionSource => a.string(1) as CollectionSource;
  return {
    log: (a) => {
      log.log(a.integer(1) as LogLevel, `${a.string(2)}: ${a.string(3)}`);
    },
    print: (a) => {
      process.stdout.write(`${a.string(1)}\n`);
    },
    collList: (a) => {
      const entries = api.collection(source(a), ownerOf(source(a), a.integer(2)));
      return new LuaMulti([entries.map(([k]) => k), entries.map(([, v]) => v)]);
    },
    collCount: (a) => api.collection(source(a), ownerOf(source(a), a.integer(2))).length,
    collGet: (a) => {
      const s = source(a);
      let key = a.type(3) === LuaType.STRING ? a.bytes(3) : rt.values.read(3);
      if (Buffer.isBuffer(key)) {
        key = (s === 'clients' || s === 'groups') && key.length === 32 ? key.toString('hex') : key.toString('utf8');
      }
      return api.collectionGet(s, ownerOf(s, a.integer(2)), key);
    },
    serversBroadcast: (a) => {
      const handler = a.string(2);
      if (handler === '' || handler === '.') {
        throw new Error(`invalid handler name "${handler}"`);
      }
      broadcastTo(api.servers, api.serverList(source(a)), handler, rt.values.readRange(3, a.count - 2));
    },
    get: (a) => (a.string(1) === 'writer' ? luaWriterField(rt, a.integer(2), a.string(3)) : getField(rt, a.string(1), rt.objectById(a.integer(2)), a.string(3))),
    set: (a) => {
      if (a.string(1) === 'writer') {
        setLuaWriterField(rt, a.integer(2), a.string(3), a.boolean(4));
        return;
      }
      const object = rt.objectById(a.integer(2));
      const key = a.string(3);
      if (object instanceof Listener && (key === 'receiveAudio' || key === 'receiveVideo')) {
        // Video back on starts at the next keyframe (the subscriber's drop policy).
        object[key] = a.boolean(4);
      }
    },
    hookChanged: (a) => {
      const object = rt.objectById(a.integer(2));
      if (object instanceof Publication) {
        rt.publicationHookChanged(object);
      }
    },
    appChild: (a) => {
      const app = rt.ctx.appById(a.integer(1));
      const child = app === undefined ? null : rt.ctx.childApp(app, a.string(2), a.boolean(3));
      return child !== null && child.loaded && child.effectiveKind === 'lua' ? rt.envOf(child) : undefined;
    },
    findFile: (a) => {
      const app = rt.ctx.appById(a.integer(1));
      const file = app === undefined ? null : findFile(app, a.string(2), api.config.application.dir);
      if (file === null) {
        return undefined;
      }
      return new LuaMulti([file.endsWith('.lua') ? compatChunk(readFileSync(file)) : readFileSync(file), `@${relative(api.config.application.dir, file) || file}`]);
    },
  };
};

const getField = (rt: LuaRuntime, kind: string, object: object | undefined, key: string): unknown => {
  const api = rt.ctx.api;
  if (object instanceof Client) {
    if (kind === 'writer') {
      return key === 'qos' ? api.qos(null, null, object) : undefined;
    }
    switch (key) {
      case 'address': return object.address;
      case 'ping': return object.ping;
      case 'lastReceptionTime': return object.lastReceptionTime;
      case 'state': return object.state;
      default: return undefined;
    }
  }
  if (object instanceof Publication) {
    switch (key) {
      case 'running': return object.running;
      case 'lastTime': return object.lastTime;
      case 'droppedFrames': return object.droppedFrames;
      case 'properties': return object.properties ?? {};
      case 'publisher': return object.publisher ?? undefined;
      case 'audioQOS': return api.qos(object, 'audio');
      case 'videoQOS': return api.qos(object, 'video');
      case 'dataQOS': return api.qos(object, 'data');
      default: return undefined;
    }
  }
  if (object instanceof Listener) {
    switch (key) {
      case 'receiveAudio': return object.receiveAudio;
      case 'receiveVideo': return object.receiveVideo;
      case 'droppedFrames': return object.droppedFrames;
      default: return { ...api.qos(object.publication, key === 'audioQOS' ? 'audio' : key === 'videoQOS' ? 'video' : 'data', object.client), droppedFrames: object.droppedFrames };
    }
  }
  if (object instanceof Group) {
    return key === 'count' ? object.size : undefined;
  }
  if (kind === 'server' && object !== undefined) {
    const server = object as ScriptServer;
    switch (key) {
      case 'address': return server.address;
      case 'host': return server.host;
      case 'port': return server.port;
      case 'isTarget': return server.isTarget;
      case 'configs': return configsTable(server.configs);
      // CumulusServer's name for where its clients are redirected to.
      case 'publicAddress': return server.publicAddress('RTMFP') ?? server.host;
      default: return undefined;
    }
  }
  return luaSocketField(object, key);
};

/** A Lua table of host functions, left on the stack. */
const pushFunctions = (rt: LuaRuntime, fns: Record<string, HostFunction>): void => {
  const vm = rt.vm;
  vm.newTable(0, Object.keys(fns).length);
  for (const [name, fn] of Object.entries(fns)) {
    vm.pushString(name);
    vm.pushFunction(fn);
    vm.rawSet(-3);
  }
};

/**
 * Runs the preludes with the host functions and returns registry references to the prelude
 * functions the runtime calls.
 */
export const installHost = (rt: LuaRuntime): Record<string, number> => {
  const vm = rt.vm;
  const api = rt.ctx.api;
  pushFunctions(rt, { ...coreFunctions(rt), ...fileFunctions(rt), ...dataFunctions(rt) });
  vm.pushString('mona');
  pushFunctions(rt, monaFunctions(rt));
  vm.rawSet(-3);
  vm.pushString('configs');
  rt.values.push(configsTable(api.config.values));
  vm.rawSet(-3);
  vm.pushString('environment');
  rt.values.push({ ...process.env });
  vm.rawSet(-3);
  const host = vm.ref();

  vm.load(Buffer.from(PRELUDE), '=nimbus');
  vm.pushRef(host);
  vm.call(1, 0);
  const prelude = vm.ref();
  const refs: Record<string, number> = {};
  for (const name of PRELUDE_EXPORTS) {
    vm.pushRef(prelude);
    vm.pushString(name);
    vm.rawGet(-2);
    refs[name] = vm.ref();
    vm.top = -2;
  }

  vm.load(Buffer.from(IO_PRELUDE), '=nimbus-io');
  vm.pushRef(host);
  vm.pushRef(prelude);
  vm.call(2, 0);

  vm.load(Buffer.from(DATA_PRELUDE), '=nimbus-data');
  vm.pushRef(host);
  vm.pushRef(prelude);
  vm.call(2, 0);

  vm.load(Buffer.from(MONA_PRELUDE), '=nimbus-mona');
  vm.pushRef(host);
  vm.pushRef(prelude);
  vm.call(2, 0);

  for (const [kind, methods] of Object.entries(objectMethods(rt))) {
    vm.pushRef(prelude);
    vm.pushString('addMethods');
    vm.rawGet(-2);
    vm.pushString(kind);
    pushFunctions(rt, methods);
    vm.call(2, 0);
    vm.top = -2;
  }
  return refs;
};
