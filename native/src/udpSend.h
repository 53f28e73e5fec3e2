// Batched UDP sends (sendmmsg) on a socket Node owns: see udpSend.cc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nimbus {

// Bytes per destination in the portable address table: family (4 or 6), 0, port (big-endian),
// then the address (4 or 16 bytes), zero padded.
constexpr size_t kAddressEntrySize = 20;

// Sends datagram i = data[offsets[i], offsets[i + 1]) to address entry i, for i in [0, count), on
// the non-blocking UDP socket `fd`, in as few sendmmsg calls as it takes. Stops at the first
// datagram the kernel cannot take now (EAGAIN, ENOBUFS) and returns how many were handled:
// sent, or dropped for a reason that retrying cannot fix (a bad address: UDP's own semantics).
// Returns -errno if the socket itself is unusable (EBADF, ENOTSOCK). Returns 0 where sendmmsg
// does not exist (not Linux): the caller sends everything itself.
// `*segmentation`: whether runs of equal-sized datagrams to one destination may go as one
// UDP_SEGMENT (GSO) message; cleared when the socket refuses it (then plain datagrams).
int64_t sendDatagrams(int fd, const uint8_t* data, const uint32_t* offsets, const uint8_t* addresses,
                      uint32_t count, bool* segmentation);

// Whether sendDatagrams can send anything on this platform.
bool sendDatagramsAvailable();

}  // namespace nimbus
