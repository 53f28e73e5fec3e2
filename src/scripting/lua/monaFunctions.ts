import { Client } from '../../core/Client.js';
import { Group, type GroupMember } from '../../core/Group.js';
import { Publication } from '../../core/Publication.js';
import { FrameKind } from '../../media/MediaFrame.js';
import type { ScriptServer } from '../ServerDirectory.js';
import { luaSocketFunctions, luaSocketMethods } from '../sockets/LuaSockets.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { luaMediaWriters } from './luaMediaWriters.js';
import { luaWriterMethods } from './luaWriters.js';
import { type HostFunction, type LuaArgs, LuaMulti, LuaType } from './LuaVm.js';
import { textOf } from '../../util/text.js';
import { serializerFunctions } from './serializerFunctions.js';
import { listPaths } from './luaFiles.js';
import { createIPAddress, createSocketAddress, dumpLines, type IPAddress, ipFields, type SocketAddress } from '../sockets/addressObjects.js';
import { scriptLog } from '../sockets/LuaSockets.js';

/** A 32-byte id given raw or as 64 hex characters. */
const rawIdOf = (a: LuaArgs, i: number): Buffer | null => {
  const bytes = a.bytes(i);
  if (bytes.length === 32) {
    return bytes;
  }
  const text = bytes.toString('latin1');
  return /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : null;
};

const notSupported = (name: string): HostFunction => () => {
  throw new Error(`mona:${name} is not supported by Nimbus`);
};

/** `mona.*` (called without `self`: the prelude drops it). */
export const monaFunctions = (rt: LuaRuntime): Record<string, HostFunction> => {
  const api = rt.ctx.api;
  const rest = (a: LuaArgs, from: number): unknown[] => rt.values.readRange(from, Math.max(0, a.count - from + 1));
  const allBytes = (a: LuaArgs): Buffer[] => Array.from({ length: a.count }, (_, i) => a.bytes(i + 1));
  return {
    publish: (a) => api.publish(a.string(1), rt.currentApp) ?? undefined,
    joinGroup: (a) => {
      const peerId = rawIdOf(a, 1);
      const groupId = rawIdOf(a, 2);
      if (peerId === null || groupId === null) {
        throw new Error('joinGroup(peerId, groupId) takes two 32-byte ids (raw or 64 hex characters)');
      }
      // A virtual member: a peer on another server, introduced to the group's local members by
      // the RTMFP layer (core registry), firing no hook. A peer that is here already is not replaced.
      const existing = api.groups.get(groupId.toString('hex'))?.members.get(peerId.toString('hex'));
      if (existing !== undefined) {
        return existing.client === null ? existing : undefined;
      }
      return api.core.joinGroup(groupId, peerId, null).member;
    },
    ...serializerFunctions(rt),
    toJSON: (a) => api.toJson(rest(a, 1)),
    fromJSON: (a) => api.fromJson(a.string(1)),
    md5: (a) => new LuaMulti(api.digest('md5', allBytes(a))),
    sha256: (a) => new LuaMulti(api.digest('sha256', allBytes(a))),
    split: (a) => new LuaMulti(api.split(a.string(1), a.string(2, ' '))),
    time: () => Date.now(),
    absolutePath: (a) => api.absolutePath(a.string(1)),
    addToBlacklist: notSupported('addToBlacklist'),
    removeFromBlacklist: notSupported('removeFromBlacklist'),
    ...luaSocketFunctions(rt),
    createMediaWriter: luaMediaWriters(rt).create,
    listPaths: (a) => listPaths(api, a.string(1)),
    // The prelude makes tables of these (P.address): ("ip", fields, key) or ("socket", fields, key, host fields, host key).
    createIPAddress: (a) => ipResult(createIPAddress(rest(a, 1), false)),
    createIPAddressWithDNS: (a) => ipResult(createIPAddress(rest(a, 1), true)),
    createSocketAddress: (a) => socketResult(createSocketAddress(rest(a, 1), false)),
    createSocketAddressWithDNS: (a) => socketResult(createSocketAddress(rest(a, 1), true)),
    // LUAInvoker::Dump: the name (its first word is MonaServer's --dump filter), the data if a string follows.
    dump: (a) => {
      if (a.count < 1 || a.type(1) === LuaType.NIL) {
        return;
      }
      const name = a.bytes(1).toString('latin1');
      if (a.count < 2 || a.type(2) !== LuaType.STRING) {
        scriptLog(rt, 'warn', `debugging mona:dump(${name},...) not removed`);
        return;
      }
      const size = a.count >= 3 && a.type(3) === LuaType.NUMBER ? a.number(3) : undefined;
      scriptLog(rt, 'debug', dumpLines(name, a.bytes(2), size));
    },
  };
};

const ipResult = (ip: IPAddress): LuaMulti => new LuaMulti(['ip', ipFields(ip), ip.key]);
const socketResult = (address: SocketAddress): LuaMulti =>
  new LuaMulti(['socket', { value: address.value, port: address.port, isIPv6: address.isIPv6 }, address.key, ipFields(address.host), address.host.key]);

/** Methods of the objects (`obj:method(...)` calls these with the object's handle first). */
export const objectMethods = (rt: LuaRuntime): Record<string, Record<string, HostFunction>> => {
  const api = rt.ctx.api;
  const client = (a: LuaArgs): Client | null => {
    const c = rt.objectById(a.integer(1));
    return c instanceof Client && c.state !== 'closed' ? c : null;
  };
  const publication = (a: LuaArgs): Publication | null => {
    const p = rt.objectById(a.integer(1));
    return p instanceof Publication ? p : null;
  };
  const rest = (a: LuaArgs, from: number): unknown[] => rt.values.readRange(from, Math.max(0, a.count - from + 1));
  const push = (kind: FrameKind) => (a: LuaArgs): void => {
    const p = publication(a);
    if (p !== null) {
      api.push(p, kind, a.integer(2), a.bytes(3));
    }
  };
  return {
    client: {
      // client.properties(key, value, options) on HTTP (the prelude makes `properties` callable).
      __setCookie: (a) => {
        const c = client(a);
        if (c === null || c.setCookie === null) {
          return;
        }
        const [value, options] = rest(a, 3);
        c.setCookie(a.string(2), textOf(value), typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : {});
      },
    },
    // writeInvocation/writeAMFMessage, writeMessage, writeRaw, flush, close, newWriter (luaWriters.ts).
    writer: luaWriterMethods(rt),
    publication: {
      pushVideo: push(FrameKind.VIDEO),
      pushAudio: push(FrameKind.AUDIO),
      // CumulusServer's names; pushDataPacket(name, packet): the handler name, then the packet's AMF bytes.
      pushVideoPacket: push(FrameKind.VIDEO),
      pushAudioPacket: push(FrameKind.AUDIO),
      pushDataPacket: (a) => {
        const p = publication(a);
        if (p !== null) {
          api.push(p, FrameKind.DATA, p.lastTime, Buffer.concat([api.toAmf0([a.string(2)]), a.bytes(3)]));
        }
      },
      pushData: (a) => {
        const p = publication(a);
        if (p !== null) {
          api.pushData(p, a.count === 2 && a.type(2) === LuaType.STRING ? [a.bytes(2)] : rest(a, 2), p.lastTime);
        }
      },
      pushAMFData: (a) => {
        const p = publication(a);
        if (p !== null) {
          api.push(p, FrameKind.DATA, p.lastTime, api.toAmf0(rest(a, 2)));
        }
      },
      writeProperties: (a) => {
        const p = publication(a);
        if (p !== null) {
          api.push(p, FrameKind.DATA, p.lastTime, api.toAmf0(['onMetaData', ...rest(a, 2)]));
        }
      },
      clearProperties: (a) => {
        const p = publication(a);
        if (p !== null) {
          p.properties = null;
        }
      },
      flush: () => undefined,
      close: (a) => {
        const p = publication(a);
        if (p !== null) {
          api.closePublication(p);
        }
      },
    },
    group: {
      size: (a) => {
        const g = rt.objectById(a.integer(1));
        return g instanceof Group ? g.size : 0;
      },
    },
    member: {
      release: (a) => {
        const m = rt.objectById(a.integer(1)) as GroupMember | undefined;
        if (m === undefined || m.client !== null) {
          return;
        }
        for (const group of [...api.groups.values()]) {
          if (group.members.get(m.id) === m) {
            api.core.leaveGroup(group, m.id);
          }
        }
      },
    },
    mediaWriter: luaMediaWriters(rt).methods,
    server: {
      send: (a) => {
        const handler = a.string(2);
        if (handler === '' || handler === '.') {
          throw new Error(`invalid handler name "${handler}"`);
        }
        (rt.objectById(a.integer(1)) as ScriptServer | undefined)?.send(handler, ...rest(a, 3));
      },
      reject: (a) => (rt.objectById(a.integer(1)) as ScriptServer | undefined)?.reject(a.type(2) === LuaType.STRING ? a.string(2) : undefined),
    },
    ...luaSocketMethods(rt),
  };
};
