/**
 * Moving a connected TCP socket to another thread (docs/adr/0003-rtmp-socket-handover.md): the
 * native addon duplicates its descriptor, the receiving thread opens the copy with
 * `new net.Socket({ fd })`, and the sending thread closes its own handle. Without the addon
 * there is no handover (Node cannot move a handle between threads): RTMP then stays on the main
 * thread.
 */
import type { NativeAddon } from './native/nativeAddon.js';

export interface SocketHandover {
  /** A new descriptor (close-on-exec) of the connected stream socket `fd`, or -errno. */
  duplicateStream(fd: number): number;
  /** Closes a descriptor from `duplicateStream` that no socket took over; 0 or -errno. */
  closeDescriptor(fd: number): number;
}

/** The addon's handover, or null when it has none (not built, too old, not POSIX). */
export const nativeHandover = (addon: NativeAddon): SocketHandover | null =>
  addon.duplicateStreamAvailable === true
    ? { duplicateStream: (fd) => addon.duplicateStream(fd), closeDescriptor: (fd) => addon.closeDescriptor(fd) }
    : null;
