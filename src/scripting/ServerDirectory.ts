/**
 * What scripts see of the other servers of a mesh (`mona.servers`, mona-api.md §1.5). The mesh
 * implements it (structurally: scripting and mesh do not import each other) and Server.ts hands it
 * to the AppHost; until then `mona.servers` is an empty collection.
 */
export interface ScriptServer {
  /** "ip:port" of the TCP peer. */
  readonly address: string;
  /** IP part of `address`. */
  readonly host: string;
  readonly port: number;
  /** True on the side that dialed (the peer is one of our `servers.targets`). */
  readonly isTarget: boolean;
  /** The peer's public configuration (HELLO) plus the query properties of its target entry. */
  readonly configs: Readonly<Record<string, string>>;
  /** Where clients of `protocol` are redirected to reach this server ("host:port"), or null. */
  publicAddress(protocol: string): string | null;
  /** Calls `server:<handler>(...)` on the peer. */
  send(handler: string, ...args: unknown[]): void;
  reject(reason?: string): void;
}

export interface ServerDirectory {
  /** Connected servers, in connection order. */
  list(): readonly ScriptServer[];
  /** `mona.servers:broadcast(handler, ...)` to `servers`, the message encoded once (else each server's `send`). */
  broadcast?(servers: readonly ScriptServer[], handler: string, args: readonly unknown[]): void;
  /**
   * Bytes written to the most loaded link and not sent yet: while it passes servers.queueBytes,
   * the scripts' media hooks skip frames up to the next keyframe (ScriptTaps), so a script that
   * relays media to a slow server drops instead of queueing without bound.
   */
  backlog?(): number;
}

/** `servers:broadcast(handler, ...args)` through the directory (one encoding) or server by server. */
export const broadcastTo = (directory: ServerDirectory, servers: readonly ScriptServer[], handler: string, args: readonly unknown[]): void => {
  if (directory.broadcast !== undefined) {
    directory.broadcast(servers, handler, args);
    return;
  }
  for (const server of servers) {
    server.send(handler, ...args);
  }
};

/** No mesh: no servers. */
export const noServers: ServerDirectory = { list: () => [] };

/** A live view of the connected servers (`mona.servers`, `.initiators`, `.targets`) as scripts hold it. */
export class ServerListView {
  constructor(
    private readonly directory: ServerDirectory,
    readonly which: 'all' | 'initiators' | 'targets',
  ) {}

  servers(): readonly ScriptServer[] {
    const all = this.directory.list();
    return this.which === 'all' ? all : all.filter((s) => s.isTarget === (this.which === 'targets'));
  }
}
