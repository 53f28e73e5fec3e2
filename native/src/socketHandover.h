// Hands a connected TCP socket from one thread's libuv loop to another's: the main thread
// accepts an RTMP connection and runs its handshake and `connect` (the control plane), then a
// media worker serves it (docs/adr/0003-rtmp-socket-handover.md). Node has no API to move a
// handle between threads, so the descriptor is duplicated here and the worker opens the copy
// with `new net.Socket({ fd })`; the main thread then closes its own handle (no FIN: close(2) of
// one of two descriptors of a socket leaves the connection open).
#pragma once

#include <cstdint>

namespace nimbus {

// Whether this platform can duplicate descriptors (POSIX).
bool duplicateStreamAvailable();

// A new descriptor (close-on-exec) for the connected stream socket `fd`, or -errno: -ENOTSOCK
// when `fd` is not a stream socket (a stale or foreign number is refused, not duplicated).
int64_t duplicateStream(int fd);

// Closes a descriptor made by duplicateStream that no socket took over; 0 or -errno.
int64_t closeDescriptor(int fd);

}  // namespace nimbus
