import { Client, type ClientWriter } from '../../core/Client.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { type HostFunction, type LuaArgs, LuaType } from './LuaVm.js';

/** What the script layer knows of one writer. */
interface WriterState {
  readonly client: Client;
  readonly writer: ClientWriter;
  /** `writer:close()` was called: later writes are script errors (while the client is there). */
  closedByScript: boolean;
  /** Written since the last `flush()`. */
  wrote: boolean;
}

interface Registry {
  /** The sessions' own writers (`client.writer`, handle = the client's). */
  main: WeakMap<Client, WriterState>;
  /** `newWriter()` writers, by their negative handle. */
  subs: Map<number, WriterState>;
  next: number;
}

const registries = new WeakMap<LuaRuntime, Registry>();

const registryOf = (rt: LuaRuntime): Registry => {
  let r = registries.get(rt);
  if (r === undefined) {
    r = { main: new WeakMap(), subs: new Map(), next: -1 };
    registries.set(rt, r);
  }
  return r;
};

/**
 * The writer of a Lua writer handle: positive, the client's own writer (`client.writer`);
 * negative, one `writer:newWriter()` made. Null when its client is gone (writes have no effect
 * then, as in `onDisconnection`).
 */
const stateOf = (rt: LuaRuntime, handle: number): WriterState | null => {
  const r = registryOf(rt);
  if (handle < 0) {
    const sub = r.subs.get(handle);
    return sub === undefined || sub.client.state === 'closed' ? null : sub;
  }
  const client = rt.objectById(handle);
  if (!(client instanceof Client) || client.state === 'closed') {
    return null;
  }
  let state = r.main.get(client);
  if (state === undefined) {
    state = { client, writer: client.writer, closedByScript: false, wrote: false };
    r.main.set(client, state);
  }
  return state;
};

/** Live fields of a writer (`reliable`, `qos`), for the prelude's `host.get`. */
export const luaWriterField = (rt: LuaRuntime, handle: number, key: string): unknown => {
  const state = stateOf(rt, handle);
  if (key === 'reliable') {
    return state?.writer.reliable ?? true;
  }
  if (key === 'qos') {
    return state === null ? undefined : rt.ctx.api.qos(null, null, state.client);
  }
  return undefined;
};

/** `writer.reliable = value`. */
export const setLuaWriterField = (rt: LuaRuntime, handle: number, key: string, value: boolean): void => {
  const state = stateOf(rt, handle);
  if (state !== null && key === 'reliable' && 'reliable' in state.writer) {
    state.writer.reliable = value;
  }
};

/**
 * The `writer` methods (MonaServer's LUAWriter, Cumulus's LUAFlowWriter): writeInvocation /
 * writeAMFMessage, writeMessage, writeRaw, flush, close, and `__newWriter` behind the prelude's
 * newWriter / newFlowWriter.
 */
export const luaWriterMethods = (rt: LuaRuntime): Record<string, HostFunction> => {
  const r = registryOf(rt);
  const rest = (a: LuaArgs, from: number): unknown[] => rt.values.readRange(from, Math.max(0, a.count - from + 1));
  /** The writer to write to, null for no effect; throws once the script closed it. */
  const writable = (a: LuaArgs, method: string): WriterState | null => {
    const state = stateOf(rt, a.integer(1));
    if (state === null) {
      return null;
    }
    if (state.closedByScript) {
      throw new Error(`writer:${method}: this writer is closed (writer:close() was called)`);
    }
    if (state.writer.isClosed === true) {
      return null;
    }
    state.wrote = true;
    return state;
  };
  const invoke = (method: string) => (a: LuaArgs): void => {
    const type = a.type(2);
    if (type !== LuaType.STRING && type !== LuaType.NUMBER && type !== LuaType.NIL && type !== LuaType.NONE) {
      throw new Error(`writer:${method}(name, ...): the name must be a string, not ${a.vm.typeName(2)}`);
    }
    // MonaServer's default name is "onMessage".
    writable(a, method)?.writer.writeInvocation(a.string(2, 'onMessage'), ...rest(a, 3));
  };
  return {
    writeInvocation: invoke('writeInvocation'),
    // Cumulus's FlowWriter::writeAMFMessage(name): the same AMF invocation (name, 0, null, args...).
    writeAMFMessage: invoke('writeAMFMessage'),
    writeMessage: (a) => writable(a, 'writeMessage')?.writer.writeMessage(...rest(a, 2)),
    writeRaw: (a) => {
      const chunks: Buffer[] = [];
      for (let i = 2; i <= a.count; i++) {
        const type = a.type(i);
        if (type === LuaType.STRING) {
          chunks.push(a.bytes(i));
        } else if (type !== LuaType.NIL) {
          throw new Error(`writer:writeRaw(...): argument #${i - 1} is a ${a.vm.typeName(i)}, expected a string of bytes`);
        }
      }
      const state = writable(a, 'writeRaw');
      if (state === null) {
        return;
      }
      const writer = state.writer;
      if (writer.writeRaw === undefined) {
        throw new Error(`writer:writeRaw is not supported by ${state.client.protocol}`);
      }
      // One raw unit per argument, as MonaServer (one flow message, frame, User Control message each).
      for (const chunk of chunks) {
        writer.writeRaw(chunk);
      }
    },
    // Writes leave at once (MonaServer buffers until the end of the event or flush): flush tells
    // whether something was written since the previous one, as its return value.
    flush: (a) => {
      const state = stateOf(rt, a.integer(1));
      if (state === null || state.closedByScript || state.writer.isClosed === true) {
        return false;
      }
      const wrote = state.wrote;
      state.wrote = false;
      return wrote;
    },
    close: (a) => {
      const handle = a.integer(1);
      const state = stateOf(rt, handle);
      if (state === null || state.closedByScript) {
        return;
      }
      state.closedByScript = true;
      if (handle < 0) {
        // Kept, as closed: later writes through this handle are reported.
        state.writer.close();
        return;
      }
      state.writer.close(a.type(2) === LuaType.NONE || a.type(2) === LuaType.NIL ? 'closed by the application' : a.string(2));
    },
    __newWriter: (a) => {
      const handle = a.integer(1);
      const state = stateOf(rt, handle);
      if (state?.closedByScript === true) {
        throw new Error('writer:newWriter: this writer is closed (writer:close() was called)');
      }
      if (state === null || state.writer.newWriter === undefined) {
        // MonaServer's Writer::newWriter: the same writer where the protocol has no other (WebSocket, HTTP).
        return handle;
      }
      for (const [id, sub] of r.subs) {
        if (sub.client.state === 'closed') {
          r.subs.delete(id);
        }
      }
      const id = r.next--;
      r.subs.set(id, { client: state.client, writer: state.writer.newWriter(), closedByScript: false, wrote: false });
      return id;
    },
  };
};
