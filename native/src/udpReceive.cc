// Batched UDP receives: libuv reads one datagram per recvmsg(2) and Node makes a Buffer, an
// address object and a JS callback of each. When a datagram arrives, the data plane drains what
// else is already queued on the socket with one recvmmsg(2) into one slab instead (the acks of
// hundreds of subscribers arrive in bursts after a fan-out). libuv then finds the socket empty,
// which it handles as any spurious wake-up.
#include "udpReceive.h"

#include "udpSend.h"

#if defined(__linux__)
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#endif

namespace nimbus {

#if defined(__linux__)

namespace {

constexpr uint32_t kMaxBatch = 256;

void encodeSource(const sockaddr_storage& from, uint8_t* entry) {
  std::memset(entry, 0, kAddressEntrySize);
  if (from.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(from);
    entry[0] = 4;
    std::memcpy(entry + 2, &v4.sin_port, 2);  // network order is big-endian
    std::memcpy(entry + 4, &v4.sin_addr, 4);
  } else if (from.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(from);
    entry[0] = 6;
    std::memcpy(entry + 2, &v6.sin6_port, 2);
    std::memcpy(entry + 4, &v6.sin6_addr, 16);
  }
}

}  // namespace

int64_t receiveDatagrams(int fd, uint8_t* slab, uint32_t slot, uint32_t max, uint32_t* lengths, uint8_t* addresses) {
  if (max > kMaxBatch) {
    max = kMaxBatch;
  }
  mmsghdr messages[kMaxBatch];
  iovec vectors[kMaxBatch];
  sockaddr_storage sources[kMaxBatch];
  for (uint32_t i = 0; i < max; i++) {
    vectors[i].iov_base = slab + static_cast<size_t>(i) * slot;
    vectors[i].iov_len = slot;
    std::memset(&messages[i], 0, sizeof(mmsghdr));
    messages[i].msg_hdr.msg_name = &sources[i];
    messages[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int n;
  do {
    n = recvmmsg(fd, messages, max, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int error = errno;
    // Nothing queued, or an ICMP error reported on the socket (a peer's port closed): no data.
    return error == EAGAIN || error == EWOULDBLOCK || error == ECONNREFUSED ? 0 : -error;
  }
  for (int i = 0; i < n; i++) {
    const bool truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    lengths[i] = truncated ? 0 : messages[i].msg_len;
    encodeSource(sources[i], addresses + static_cast<size_t>(i) * kAddressEntrySize);
  }
  return n;
}

#else

int64_t receiveDatagrams(int, uint8_t*, uint32_t, uint32_t, uint32_t*, uint8_t*) {
  return 0;
}

#endif

}  // namespace nimbus
