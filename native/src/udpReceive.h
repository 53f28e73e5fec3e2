// Batched UDP receives (recvmmsg) on a socket Node owns: see udpReceive.cc.
#pragma once

#include <cstdint>

namespace nimbus {

// Reads up to `max` datagrams already queued on the non-blocking UDP socket `fd` into `slab`
// (datagram i at slab + i * slot, its length in lengths[i], its source as a 20-byte address entry
// at addresses + i * 20, the format of udpSend.h). A datagram longer than `slot` gets length 0
// (truncated: to be dropped). Returns how many were read (0: none waiting, or not Linux), or
// -errno when the socket is unusable.
int64_t receiveDatagrams(int fd, uint8_t* slab, uint32_t slot, uint32_t max, uint32_t* lengths, uint8_t* addresses);

}  // namespace nimbus
