/**
 * Socket system calls the native addon can make on sockets Node owns, behind one interface with
 * a Node fallback (the same loader rule as the packet kernels: native when built and allowed,
 * otherwise Node's own APIs). Unlike `Kernels`, these produce no bytes to compare: the fallback
 * "handles nothing" and the caller sends through Node, so both paths put the same datagrams on
 * the wire.
 */
import type { Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv6, parseIpv4, parseIpv6 } from '../util/ipLiteral.js';

/** Bytes per destination in the address table given to `sendDatagrams` (native/src/udpSend.h). */
export const UDP_ADDRESS_ENTRY_SIZE = 20;

export interface SocketIo {
  /** `'native'` or `'node'`, for logs and benchmarks. */
  readonly name: string;
  /** Whether `sendDatagrams` can send anything (Linux with the addon). */
  readonly batchedUdp: boolean;
  /**
   * Sends datagram `i` = `data[offsets[i], offsets[i + 1])` to the destination encoded at
   * `addresses[i * 20...]` (`encodeUdpAddress`) for `i` in `[0, count)`, on the UDP socket `fd`,
   * without blocking. Returns how many were handled (sent, or dropped for a reason retrying
   * cannot fix), stopping at the first the kernel cannot take now: the caller sends the rest
   * through Node. A negative result is `-errno`: the socket itself is unusable here.
   */
  sendDatagrams(fd: number, data: Buffer, offsets: Uint32Array, addresses: Buffer, count: number): number;
  /**
   * Reads up to `max` (≤ 256) datagrams already queued on the UDP socket `fd`, without blocking:
   * datagram `i` at `slab[i * slot...]`, its length in `lengths[i]` (0: longer than `slot`,
   * truncated, to drop), its source at `addresses[i * 20...]` (`decodeUdpAddress`). Returns how
   * many were read (0 when none is waiting, or always with the Node fallback), or `-errno`.
   */
  receiveDatagrams(fd: number, slab: Buffer, slot: number, max: number, lengths: Uint32Array, addresses: Buffer): number;
  /** Whether `writeStreams` can write anything (Linux with the addon). */
  readonly batchedTcp: boolean;
  /**
   * For each stream `i` in `[0, count)` with `fds[i] >= 0`: writes `pieces[refs[j]]` for `j` in
   * `[refOffsets[i], refOffsets[i + 1])`, in order, to the connected stream socket `fds[i]` without
   * blocking, and sets `results[i]` to the bytes the kernel took (fewer than asked when its send
   * buffer filled, 0 for EAGAIN) or `-errno` when the socket failed. `results[i]` is left alone for
   * `fds[i] < 0`. The caller writes whatever was not taken through Node (native/src/streamWrite.h).
   */
  writeStreams(
    count: number,
    fds: Int32Array,
    pieces: readonly Buffer[],
    refs: Uint16Array,
    refOffsets: Uint32Array,
    results: Int32Array,
  ): void;
}

/** Node only: every send goes through `dgram`. */
export const nodeSocketIo: SocketIo = {
  name: 'node',
  batchedUdp: false,
  sendDatagrams: () => 0,
  receiveDatagrams: () => 0,
  batchedTcp: false,
  writeStreams: (count, fds, _pieces, _refs, _refOffsets, results) => {
    for (let i = 0; i < count; i++) {
      if (fds[i] >= 0) {
        results[i] = 0;
      }
    }
  },
};

/**
 * Writes `host`/`port` as a portable address entry (family, 0, port big-endian, 4 or 16 address
 * bytes). Returns false for what the table cannot carry (names, IPv6 zone indexes): such
 * destinations are sent through Node.
 */
export function encodeUdpAddress(host: string, port: number, out: Buffer, offset: number): boolean {
  out.fill(0, offset, offset + UDP_ADDRESS_ENTRY_SIZE);
  out[offset + 2] = port >>> 8;
  out[offset + 3] = port & 0xff;
  if (isIPv4(host) && parseIpv4(host, out, offset + 4)) {
    out[offset] = 4;
    return true;
  }
  if (isIPv6(host) && !host.includes('%') && parseIpv6(host, out.subarray(offset + 4, offset + 20))) {
    out[offset] = 6;
    return true;
  }
  return false;
}

/**
 * The host string of an address entry, as dgram would report it (`rinfo.address`): dotted IPv4,
 * `::ffff:a.b.c.d` for IPv4-mapped IPv6, else RFC 5952 IPv6. The port is
 * `entry.readUInt16BE(offset + 2)`.
 */
export function decodeUdpHost(entry: Buffer, offset: number): string {
  const a = offset + 4;
  if (entry[offset] === 4) {
    return `${entry[a]}.${entry[a + 1]}.${entry[a + 2]}.${entry[a + 3]}`;
  }
  if (entry.readUInt32BE(a) === 0 && entry.readUInt32BE(a + 4) === 0 && entry.readUInt32BE(a + 8) === 0xffff) {
    return `::ffff:${entry[a + 12]}.${entry[a + 13]}.${entry[a + 14]}.${entry[a + 15]}`;
  }
  return formatIpv6(entry.subarray(a, a + 16));
}

/** What `udpHandleOf` finds on a bound dgram socket: its descriptor and libuv's send queue. */
export interface UdpHandle {
  readonly fd: number;
  /** Datagrams libuv still holds for this socket (sends through Node that are not out yet). */
  sendQueueCount(): number;
}

interface UdpWrapLike {
  fd?: unknown;
  getSendQueueCount?: unknown;
}

/**
 * The bound socket's libuv handle, read from dgram's internal state (the public `_handle`
 * accessor is deprecated, DEP0112). Null when this Node does not have it the way we expect:
 * the caller then sends through `dgram` only.
 */
export function udpHandleOf(socket: Socket): UdpHandle | null {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (state === undefined) {
    return null;
  }
  const handle = ((socket as unknown as Record<symbol, { handle?: UdpWrapLike } | undefined>)[state])?.handle;
  if (handle === undefined || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.getSendQueueCount !== 'function') {
    return null;
  }
  const fd = handle.fd;
  const getSendQueueCount = handle.getSendQueueCount as () => number;
  return { fd, sendQueueCount: () => getSendQueueCount.call(handle) };
}
