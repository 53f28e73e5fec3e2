import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Group, GroupMember } from '../../core/Group.js';
import type { RtmfpProtocol } from './RtmfpProtocol.js';
import type { RtmfpControlSession } from './RtmfpControlSession.js';
import { readVlu } from './vlu.js';

/** GC flow messages (rtmfp.md §4.3): raw, no TC header. */
const GROUP_JOIN = 0x01;
const GROUP_MEMBER = 0x0b;
const JOIN_BY_ID = 0x15;
const JOIN_BY_TEXT = 0x10;
/** Ring neighbours introduced on each side (MonaServer2). */
const NEIGHBOURS = 3;

/** Ring addresses of members seen (a bounded cache: the least recently used leave first). */
const groupAddressCache = new LRUCache<string, Buffer>({ max: 100_000 });
/** A member's place on the ring: SHA-256(21 0F ‖ peerID). */
const groupAddress = (member: GroupMember): Buffer => {
  let address = groupAddressCache.get(member.id);
  if (address === undefined) {
    address = createHash('sha256').update(Buffer.from([0x21, 0x0f])).update(member.rawId).digest();
    groupAddressCache.set(member.id, address);
  }
  return address;
};

/**
 * The server's NetGroup role: a client joins a group by opening a `GC` flow whose first message
 * names the group; the server introduces it to its neighbours on the group-address ring (up to 3
 * on each side, virtual members included) by sending `0B <peerID>` on the GC flows, and removes it
 * when the flow or the session closes. Everything else in a NetGroup is peer to peer.
 */
export class RtmfpGroups {
  /** Which group each session joined through which of its GC flows. */
  private readonly joined = new Map<RtmfpControlSession, Map<number, Group>>();

  constructor(private readonly protocol: RtmfpProtocol) {}

  onMessage(session: RtmfpControlSession, flowId: number, message: Buffer): void {
    if (message.length < 2 || message[0] !== GROUP_JOIN || this.joined.get(session)?.has(flowId) === true) {
      return;
    }
    const cursor = { pos: 1 };
    const length = readVlu(message, message.length, cursor);
    if (length < 1 || cursor.pos + length > message.length) {
      return;
    }
    const kind = message[cursor.pos];
    const data = message.subarray(cursor.pos + 1, cursor.pos + length);
    let groupId: Buffer;
    if (kind === JOIN_BY_ID && data.length === 32) {
      groupId = data;
    } else if (kind === JOIN_BY_TEXT && data.length > 0) {
      groupId = createHash('sha256').update(data).digest();
    } else {
      this.protocol.log.debug(`${session.client.address}: unknown group join kind ${kind}`);
      return;
    }
    const { group, member } = this.protocol.core.joinGroup(groupId, session.peerId, session.client);
    let flows = this.joined.get(session);
    if (flows === undefined) {
      flows = new Map();
      this.joined.set(session, flows);
    }
    flows.set(flowId, group);
    this.introduce(session, flowId, group, member);
    this.protocol.log.debug(`${session.client.address}: joined group ${group.id} (${group.size} members)`);
  }

  /** The newcomer learns its ring neighbours; local neighbours learn the newcomer. */
  private introduce(session: RtmfpControlSession, flowId: number, group: Group, newcomer: GroupMember): void {
    const ring = [...group.members.values()].sort((a, b) => Buffer.compare(groupAddress(a), groupAddress(b)));
    const at = ring.indexOf(newcomer);
    const neighbours = new Set<GroupMember>();
    for (let k = 1; k <= NEIGHBOURS && k < ring.length; k++) {
      neighbours.add(ring[(at + k) % ring.length]);
      neighbours.add(ring[(at - k + ring.length) % ring.length]);
    }
    neighbours.delete(newcomer);
    for (const neighbour of neighbours) {
      session.commands.writeGroup(flowId, memberMessage(neighbour.rawId));
      const other = neighbour.client === null ? undefined : this.protocol.peers.get(neighbour.id) ?? this.sessionOf(neighbour);
      if (other !== undefined) {
        const otherFlowId = this.flowOf(other, group);
        if (otherFlowId >= 0) {
          other.commands.writeGroup(otherFlowId, memberMessage(newcomer.rawId));
        }
      }
    }
  }

  private sessionOf(member: GroupMember): RtmfpControlSession | undefined {
    for (const session of this.joined.keys()) {
      if (session.client === member.client) {
        return session;
      }
    }
    return undefined;
  }

  private flowOf(session: RtmfpControlSession, group: Group): number {
    for (const [flowId, g] of this.joined.get(session) ?? []) {
      if (g === group) {
        return flowId;
      }
    }
    return -1;
  }

  onFlowClosed(session: RtmfpControlSession, flowId: number): void {
    const flows = this.joined.get(session);
    const group = flows?.get(flowId);
    if (flows === undefined || group === undefined) {
      return;
    }
    flows.delete(flowId);
    if (flows.size === 0) {
      this.joined.delete(session);
    }
    this.protocol.core.leaveGroup(group, session.peerIdHex);
  }
}

const memberMessage = (peerId: Buffer): Buffer => Buffer.concat([Buffer.from([GROUP_MEMBER]), peerId]);
