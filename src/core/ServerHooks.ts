import { RejectionError } from '../errors.js';
import type { Client } from './Client.js';
import type { Group } from './Group.js';
import type { Listener } from './Listener.js';
import type { Publication } from './Publication.js';

export type Awaitable<T> = T | Promise<T>;

/** Fields `onConnection` returned: written into the connect response and into `client.parameters`. */
export type ConnectionResponse = Record<string, unknown>;

/**
 * The contract between protocols and server applications (Cumulus/Mona `Handler`). Protocols call
 * the core, the core calls these. To refuse, a hook throws a `RejectionError` (or any error: its
 * message becomes the reason); each protocol maps it to its own status (mona-api.md §1.6).
 */
export interface ServerHooks {
  onConnection(client: Client, args: readonly unknown[]): Awaitable<ConnectionResponse | undefined>;
  onDisconnection(client: Client): Awaitable<void>;
  onPublish(client: Client, publication: Publication): Awaitable<void>;
  onUnpublish(client: Client, publication: Publication): Awaitable<void>;
  onSubscribe(client: Client, listener: Listener): Awaitable<void>;
  onUnsubscribe(client: Client, listener: Listener): Awaitable<void>;
  /** RPC: `NetConnection.call(name, responder, ...args)`; the values returned go into `_result`. */
  onMessage(client: Client, name: string, args: readonly unknown[]): Awaitable<readonly unknown[]>;

  // Optional hooks: a protocol that has the event calls them when defined (absent = default behaviour).

  /**
   * RTMFP handshake (IHello with a URL): addresses ("host:port", or "myself" for this server as the
   * client reached it) to redirect the client to; an empty list lets the handshake go on here.
   */
  onHandshake?(info: HandshakeInfo): Awaitable<readonly string[]>;
  /** RTMFP rendezvous for a peer ID no local session has: addresses of servers to try, or empty. */
  onRendezVousUnknown?(protocol: string, peerId: Buffer): Awaitable<readonly string[]>;
  onJoinGroup?(client: Client, group: Group): Awaitable<void>;
  onUnjoinGroup?(client: Client, group: Group): Awaitable<void>;
  /** RTMFP address mobility: the client's packets now come from `client.address`. */
  onAddressChanged?(client: Client, oldAddress: string): Awaitable<void>;
  /**
   * HTTP: `client:onRead(file, parameters)` before a GET serves `file` of the client's folder.
   * undefined: no such hook (serve it); otherwise what the script decided.
   */
  onRead?(client: Client, file: string, parameters: Record<string, string>): Awaitable<ReadDecision | undefined>;
  /**
   * HTTP: `client:onWrite(file, parameters)` before a PUT writes its body to `file` of the client's
   * folder, with onRead's answers (nil refuses, a name renames, a table is accepted). null: the
   * client has no such hook (the PUT is refused); undefined: it returned nothing (write `file`).
   */
  onWrite?(client: Client, file: string, parameters: Record<string, string>): Awaitable<ReadDecision | undefined | null>;
  /** RPC only when the client has the method (HTTP GET of a file without extension): null when it has none. */
  callIfDefined?(client: Client, name: string, args: readonly unknown[]): Awaitable<readonly unknown[] | null>;
}

/** What `client:onRead` answered: refuse, or serve `file` ("" = the folder) with template properties. */
export type ReadDecision = { forbidden: true } | { forbidden: false; file: string; properties: Record<string, unknown> | null };

export interface HandshakeInfo {
  protocol: string;
  /** Client "ip:port". */
  address: string;
  /** Application path from the URL ("" or "/a/b"). */
  path: string;
  /** URL query parameters. */
  properties: Record<string, string>;
  /** 1 for the first IHello of this tag, then 2, 3... (lets a script avoid redirect loops). */
  attempts: number;
}

/** Until an application says otherwise: accept everything, and no RPC methods exist. */
export class DefaultHooks implements ServerHooks {
  onConnection(_client: Client, _args: readonly unknown[]): Awaitable<ConnectionResponse | undefined> {
    return undefined;
  }

  onDisconnection(_client: Client): Awaitable<void> {}

  onPublish(_client: Client, _publication: Publication): Awaitable<void> {}

  onUnpublish(_client: Client, _publication: Publication): Awaitable<void> {}

  onSubscribe(_client: Client, _listener: Listener): Awaitable<void> {}

  onUnsubscribe(_client: Client, _listener: Listener): Awaitable<void> {}

  onMessage(client: Client, name: string, _args?: readonly unknown[]): Awaitable<readonly unknown[]> {
    throw new MethodNotFound(name, client.path);
  }
}

class MethodNotFound extends RejectionError {
  constructor(name: string, path: string) {
    super('MS_ERR_CALL_FAILED', `Method client '${name}' not found in application ${path === '' ? '/' : path}`);
  }
}
