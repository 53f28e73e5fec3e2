import type { App } from '../App.js';
import { configsTable } from '../ScriptApi.js';
import { type JsObjectFactory, type JsPublication, LiveCollection, ServerCollection } from './JsObjects.js';
import { Logger, LogLevel } from '../../util/Logger.js';
import { JsMediaWriter } from './JsMediaWriter.js';
import { jsSocketFunctions, type JsTcpClient, type JsTcpServer, type JsUdpSocket } from '../sockets/JsSockets.js';
import type { ScriptSockets } from '../sockets/ScriptSockets.js';
import { jsSerializers, type JsSerializers } from './JsSerializers.js';
import { createIPAddress, createSocketAddress, dumpLines, type IPAddress, type SocketAddress } from '../sockets/addressObjects.js';

const scriptLog = new Logger('script');

/** The `mona` object of JS apps: the same operations as Lua's `mona`, with JS values (Buffers for bytes). */
export interface JsMona extends JsSerializers {
  readonly clients: LiveCollection;
  readonly publications: LiveCollection<JsPublication>;
  readonly groups: LiveCollection;
  readonly servers: ServerCollection;
  readonly configs: Record<string, unknown>;
  readonly environment: Record<string, string | undefined>;
  /** In an app's own `this.mona`: its persistent data (`this.data`, JsData.ts). */
  readonly data?: Record<string, unknown>;
  publish(name: string): JsPublication | null;
  toAMF(...values: unknown[]): Buffer;
  fromAMF(data: Uint8Array): unknown[];
  toJSON(...values: unknown[]): string;
  fromJSON(text: string): unknown;
  md5(...data: Array<string | Uint8Array>): Buffer[];
  sha256(...data: Array<string | Uint8Array>): Buffer[];
  split(expression: string, separators: string): string[];
  time(): number;
  absolutePath(path: string): string;
  log(level: 'ERROR' | 'WARN' | 'NOTE' | 'INFO' | 'DEBUG' | 'TRACE', ...parts: unknown[]): void;
  /** FLV (default), "mp4" or "mp2t"/"ts" bytes of media packets, or a recording of a publication (JsMediaWriter). */
  createMediaWriter(type?: string): JsMediaWriter;
  /** Sockets (src/scripting/sockets): closed when the app that made them stops or reloads. */
  createTCPClient(): JsTcpClient;
  createTCPServer(): JsTcpServer;
  createUDPSocket(allowBroadcast?: boolean): JsUdpSocket;
  /** MonaServer's IPAddress/SocketAddress objects (addressObjects.ts); a bad argument throws. WithDNS resolves a name now. */
  createIPAddress(value?: string | IPAddress | SocketAddress | { readonly address: string }): IPAddress;
  createIPAddressWithDNS(value?: string | IPAddress | SocketAddress | { readonly address: string }): IPAddress;
  createSocketAddress(...args: unknown[]): SocketAddress;
  createSocketAddressWithDNS(...args: unknown[]): SocketAddress;
  /** Logs `data` in hex (DEBUG level) under `name`, as MonaServer's mona:dump; without data: a warning. */
  dump(name: string, data?: string | Uint8Array, size?: number): void;
}

const bytes = (v: string | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

export const createMona = (objects: JsObjectFactory, currentApp: () => App | null, sockets: ScriptSockets): JsMona => {
  const api = objects.api;
  return {
    clients: new LiveCollection(objects, 'clients'),
    publications: new LiveCollection<JsPublication>(objects, 'publications'),
    groups: new LiveCollection(objects, 'groups'),
    servers: new ServerCollection(objects),
    configs: configsTable(api.config.values),
    environment: { ...process.env },
    publish: (name) => objects.wrap(api.publish(name, currentApp())) as JsPublication | null,
    toAMF: (...values) => api.toAmf(values),
    fromAMF: (data) => api.fromAmf(bytes(data)),
    toJSON: (...values) => api.toJson(values),
    fromJSON: (text) => api.fromJson(text),
    md5: (...data) => api.digest('md5', data.map(bytes)),
    sha256: (...data) => api.digest('sha256', data.map(bytes)),
    split: (expression, separators) => api.split(expression, separators),
    time: () => Date.now(),
    absolutePath: (path) => api.absolutePath(path),
    createMediaWriter: (type = 'flv') => new JsMediaWriter(type, api.core.recordings),
    log: (level, ...parts) => {
      const app = currentApp();
      scriptLog.log(LogLevel[level], `${app === null ? '' : `app ${app.label}: `}${parts.map(String).join('')}`);
    },
    createIPAddress: (...args: unknown[]) => createIPAddress(args, false),
    createIPAddressWithDNS: (...args: unknown[]) => createIPAddress(args, true),
    createSocketAddress: (...args) => createSocketAddress(args, false),
    createSocketAddressWithDNS: (...args) => createSocketAddress(args, true),
    dump: (name, data, size) => {
      const app = currentApp();
      const prefix = app === null ? '' : `app ${app.label}: `;
      if (data === undefined || data === null) {
        scriptLog.warn(`${prefix}debugging mona:dump(${String(name)},...) not removed`);
        return;
      }
      scriptLog.debug(`${prefix}${dumpLines(String(name), bytes(data), typeof size === 'number' ? size : undefined)}`);
    },
    ...jsSocketFunctions(sockets, currentApp),
    ...jsSerializers(),
  };
};
