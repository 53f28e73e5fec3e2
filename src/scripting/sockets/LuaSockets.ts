import type { HookResult } from '../AppRuntime.js';
import type { LuaRuntime } from '../lua/LuaRuntime.js';
import { type HostFunction, type LuaArgs, LuaType } from '../lua/LuaVm.js';
import { LOOPBACK, type SocketAddress, WILDCARD, readAddress } from './SocketAddress.js';
import { log, ScriptSocket, socketOwner } from './ScriptSockets.js';
import { TcpClientSocket } from './TcpClientSocket.js';
import { TcpServerSocket } from './TcpServerSocket.js';
import { UdpSocket } from './UdpSocket.js';

/**
 * Script sockets in Lua, as MonaServer's LUATCPClient, LUATCPServer and LUAUDPSocket bind them:
 * objects of kinds tcpClient, tcpServer, udpSocket (prelude.ts) whose events are functions the
 * script stores on them (`function socket:onData(data) ... end`), called like every other hook,
 * under application.timeout.
 */

/** Up to two values at `from`.. that make an address (numbers, strings, objects with an `address`). */
const addressArgs = (rt: LuaRuntime, a: LuaArgs, from: number): unknown[] => {
  const values: unknown[] = [];
  for (let i = from; i <= Math.min(a.count, from + 1); i++) {
    const type = a.type(i);
    values.push(type === LuaType.NUMBER ? a.number(i) : type === LuaType.STRING ? a.string(i) : type === LuaType.TABLE ? rt.values.read(i) : undefined);
  }
  return values;
};

/** "file:line: " of the script that called a host function (past the prelude's method wrappers). */
const callerOf = (rt: LuaRuntime): string => {
  for (let level = 1; level <= 4; level++) {
    const where = rt.vm.where(level);
    if (where !== '' && !/^nimbus(-\w+)?:/.test(where)) {
      return where;
    }
  }
  return '';
};

/** MonaServer's SCRIPT_ERROR (SCRIPT_WARN...): logged with the calling script's file:line, the script goes on. */
export const scriptLog = (rt: LuaRuntime, level: 'error' | 'warn' | 'debug', message: string): void => {
  log[level](`${rt.currentApp === null ? '' : `app ${rt.currentApp.label}: `}${callerOf(rt)}${message}`);
};

const scriptError = (rt: LuaRuntime, message: string): void => scriptLog(rt, 'error', message);

/** Reads an address for a method that answers true, or logs why not and answers false. */
const withAddress = (rt: LuaRuntime, a: LuaArgs, from: number, portOnlyHost: string, use: (address: SocketAddress) => void): boolean => {
  try {
    use(readAddress(addressArgs(rt, a, from), portOnlyHost));
    return true;
  } catch (err) {
    scriptError(rt, err instanceof Error ? err.message : String(err));
    return false;
  }
};

/** The value onData returned as a byte count (a number or numeric string, as lua_isnumber reads it); null: all. */
const consumedOf = (result: HookResult): number | null => {
  if (!result.defined) {
    return null;
  }
  const value = result.values[0];
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? Math.floor(n) : null;
};

const bindTcpClient = (rt: LuaRuntime, client: TcpClientSocket): TcpClientSocket => {
  client.events = {
    data: (data) => consumedOf(rt.callObjectHook(client.owner, client, 'onData', [data])),
    disconnection: (peer, error) => {
      rt.callObjectHook(client.owner, client, 'onDisconnection', error === null ? [peer] : [peer, error]);
    },
  };
  client.onGone = () => rt.release(client);
  return client;
};

/** `mona:createTCPClient()`, `mona:createTCPServer()`, `mona:createUDPSocket([allowBroadcast])`. */
export const luaSocketFunctions = (rt: LuaRuntime): Record<string, HostFunction> => ({
  createTCPClient: () => bindTcpClient(rt, new TcpClientSocket(rt.sockets, socketOwner(rt.currentApp))),
  createTCPServer: () => {
    const server = new TcpServerSocket(rt.sockets, socketOwner(rt.currentApp));
    server.events = {
      connection: (client) => {
        bindTcpClient(rt, client);
        return rt.callObjectHook(server.owner, server, 'onConnection', [client]).defined;
      },
    };
    server.onGone = () => rt.release(server);
    return server;
  },
  createUDPSocket: (a) => {
    const udp = new UdpSocket(rt.sockets, socketOwner(rt.currentApp), a.boolean(1));
    udp.events = {
      packet: (data, address) => {
        rt.callObjectHook(udp.owner, udp, 'onPacket', [data, address]);
      },
    };
    udp.onGone = () => rt.release(udp);
    return udp;
  },
});

/** Methods of the socket objects (`socket:method(...)`: the object's handle comes first). */
export const luaSocketMethods = (rt: LuaRuntime): Record<string, Record<string, HostFunction>> => {
  const socket = <T extends ScriptSocket>(a: LuaArgs, type: abstract new (...args: never[]) => T): T | null => {
    const object = rt.objectById(a.integer(1));
    return object instanceof type ? object : null;
  };
  return {
    tcpClient: {
      connect: (a) => {
        const client = socket(a, TcpClientSocket);
        return client !== null && withAddress(rt, a, 2, LOOPBACK, (address) => client.connect(address));
      },
      // MonaServer answers nothing, or the error.
      send: (a) => socket(a, TcpClientSocket)?.send(a.bytes(2)) ?? undefined,
      disconnect: (a) => {
        socket(a, TcpClientSocket)?.disconnect();
      },
    },
    tcpServer: {
      start: (a) => {
        const server = socket(a, TcpServerSocket);
        return server !== null && withAddress(rt, a, 2, WILDCARD, (address) => server.start(address));
      },
      stop: (a) => {
        socket(a, TcpServerSocket)?.stop();
      },
    },
    udpSocket: {
      bind: (a) => {
        const udp = socket(a, UdpSocket);
        return udp !== null && withAddress(rt, a, 2, WILDCARD, (address) => udp.bind(address));
      },
      // MonaServer's own reading: a number first is a port on 127.0.0.1; answers nothing, or the error.
      connect: (a) => {
        const udp = socket(a, UdpSocket);
        if (udp === null) {
          return undefined;
        }
        try {
          const [first, second] = addressArgs(rt, a, 2);
          udp.connect(typeof first === 'number' ? readAddress([LOOPBACK, first], LOOPBACK) : readAddress([first ?? LOOPBACK, second], LOOPBACK));
          return undefined;
        } catch (err) {
          return err instanceof Error ? err.message : String(err);
        }
      },
      disconnect: (a) => {
        socket(a, UdpSocket)?.disconnect();
      },
      send: (a) => {
        const udp = socket(a, UdpSocket);
        if (udp === null) {
          return false;
        }
        const data = a.bytes(2);
        if (a.count < 3) {
          try {
            udp.send(data, null);
            return true;
          } catch (err) {
            scriptError(rt, err instanceof Error ? err.message : String(err));
            return false;
          }
        }
        return withAddress(rt, a, 3, LOOPBACK, (address) => udp.send(data, address));
      },
      close: (a) => {
        socket(a, UdpSocket)?.close();
      },
    },
  };
};

/** A live field of a socket object (`connected`, `address`, `peerAddress`, `idleTime`, `running`). */
export const luaSocketField = (object: object | undefined, key: string): unknown =>
  object instanceof ScriptSocket ? object.field(key) : undefined;
