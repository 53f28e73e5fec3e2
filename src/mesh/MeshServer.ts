import { checkHandler } from './MeshCodec.js';
import { type MeshPayload, encodeArgs } from './meshArgs.js';
import { peerPublicAddress } from './meshHello.js';
import type { MeshLink } from './MeshLink.js';

/** `nimbus.*` HELLO keys belong to the link, not to scripts. */
const isLinkKey = (key: string): boolean => key.startsWith('nimbus.');

/** Members scripts must not shadow with config keys (JS apps see config keys as fields). */
const RESERVED = new Set(['address', 'host', 'port', 'isTarget', 'configs', 'send', 'reject', 'publicAddress', 'isClosed', 'link']);

/**
 * Another instance of the mesh as scripts see it (`server` in `onServerConnection(server)`,
 * mona-api.md §1.5): one object per connection, in `mona.servers` while the link is up. Scripts
 * add their own fields and RPC functions to it (`function server:onHello(name)`), shared by every
 * app, as in MonaServer.
 *
 * `host` is where clients are sent to reach this server: its `publicHost` when it set one (as
 * the seed's "Target gotten : 192.168.0.2 (www.hostB.com for clients)" shows, and its overflow
 * redirection `error(_nextServer.host)` needs), else the IP its link comes from. MonaServer's
 * code gave the IP only. `address` is the TCP peer's "ip:port".
 */
export class MeshServer {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly isTarget: boolean;
  /** The target's query properties (dialing side), then the peer's HELLO (the peer wins). */
  readonly configs: Readonly<Record<string, string>>;
  /** Script fields and RPC functions (JS apps set them directly on the object). */
  [field: string]: unknown;

  constructor(
    readonly link: MeshLink,
    targetProperties: Readonly<Record<string, string>>,
  ) {
    this.address = link.address;
    this.isTarget = link.isTarget;
    const colon = link.address.lastIndexOf(':');
    const ip = link.address.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(link.address.slice(colon + 1));
    const configs: Record<string, string> = { ...targetProperties };
    for (const [key, value] of link.peerSettings) {
      if (!isLinkKey(key)) {
        configs[key] = value;
      }
    }
    this.configs = Object.freeze(configs);
    this.host = configs.publicHost !== undefined && configs.publicHost !== '' ? configs.publicHost : ip;
    // `server.type` for `?type=master` (Lua finds it through `configs`; JS apps as a field).
    for (const [key, value] of Object.entries(configs)) {
      if (!RESERVED.has(key)) {
        Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
      }
    }
  }

  get isClosed(): boolean {
    return this.link.isClosed;
  }

  /** Where clients of `protocol` ("RTMFP", "RTMP") are redirected to reach this server, or null. */
  publicAddress(protocol: string): string | null {
    return peerPublicAddress(this.configs, protocol, this.address.slice(0, this.address.lastIndexOf(':')).replace(/^\[|\]$/g, ''));
  }

  /** Calls `server:<handler>(...)` on the peer (dropped when the link is gone). */
  send(handler: string, ...args: unknown[]): void {
    checkHandler(handler);
    this.sendPayload(handler, encodeArgs(args));
  }

  /** Sends an encoded message (a broadcast encodes once for every server). */
  sendPayload(handler: string, payload: MeshPayload): boolean {
    return this.link.send(handler, payload);
  }

  /** REJECT with `reason`, then the link closes (`onServerDisconnection` follows). */
  reject(reason?: string): void {
    this.link.reject(reason === undefined || reason === '' ? 'Unknown error' : reason);
  }

  toString(): string {
    return `server ${this.address}`;
  }
}
