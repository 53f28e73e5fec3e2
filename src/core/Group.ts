import type { Client } from './Client.js';

/**
 * An RTMFP NetGroup as the server sees it: the peers that joined it, on this instance (clients)
 * or elsewhere (virtual members, added by a script or the mesh with `mona:joinGroup`). Members
 * are kept in join order; the RTMFP layer orders them on the group-address ring for introductions.
 */
export interface GroupMember {
  /** 32-byte peer ID. */
  readonly rawId: Buffer;
  /** 64-hex peer ID. */
  readonly id: string;
  /** The local client, or null for a virtual member. */
  readonly client: Client | null;
}

export class Group {
  readonly id: string;
  readonly members = new Map<string, GroupMember>();

  constructor(readonly rawId: Buffer) {
    this.id = rawId.toString('hex');
  }

  get size(): number {
    return this.members.size;
  }
}
