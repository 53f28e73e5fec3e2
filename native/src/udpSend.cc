// Batched UDP sends: one sendmmsg(2) for up to kBatch datagrams instead of one uv_udp_send per
// datagram (architecture.md §4 step 4, rtmfp.md §7: the per-datagram send is the largest cost of
// RTMFP fan-out once the crypto is native). Consecutive datagrams to one destination (a
// keyframe's fragments to one session) go as one message with UDP_SEGMENT (generic segmentation
// offload): the stack is crossed once per run instead of once per datagram. The socket is Node's own (dgram), non-blocking; we
// only ever add datagrams to its send buffer, so libuv's state is untouched. The caller uses this
// only while libuv's own send queue for the socket is empty, which keeps the datagram order.
#include "udpSend.h"

#if defined(__linux__)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#endif

namespace nimbus {

#if defined(__linux__)

namespace {

constexpr uint32_t kBatch = 64;  // messages per sendmmsg (UIO_MAXIOV caps it at 1024; 64 keeps the stack small)
// UDP_SEGMENT limits: 64 segments (UDP_MAX_SEGMENTS of older kernels), one IP datagram in all.
constexpr uint32_t kMaxSegments = 64;
constexpr uint32_t kMaxSegmentedBytes = 60000;

struct Destination {
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  socklen_t length;
};

// Decodes one portable address entry; false when it is malformed (never sent).
bool decode(const uint8_t* entry, Destination* out) {
  const uint16_t port = static_cast<uint16_t>((entry[2] << 8) | entry[3]);
  std::memset(out, 0, sizeof(*out));
  if (entry[0] == 4) {
    out->v4.sin_family = AF_INET;
    out->v4.sin_port = htons(port);
    std::memcpy(&out->v4.sin_addr, entry + 4, 4);
    out->length = sizeof(sockaddr_in);
    return true;
  }
  if (entry[0] == 6) {
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons(port);
    std::memcpy(&out->v6.sin6_addr, entry + 4, 16);
    out->length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool retryLater(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS || error == EINTR;
}

bool socketUnusable(int error) {
  return error == EBADF || error == ENOTSOCK;
}

}  // namespace

bool sendDatagramsAvailable() {
  return true;
}

int64_t sendDatagrams(int fd, const uint8_t* data, const uint32_t* offsets, const uint8_t* addresses, uint32_t count,
                      bool* segmentation) {
  mmsghdr messages[kBatch];
  iovec vectors[kBatch];
  Destination destinations[kBatch];
  alignas(cmsghdr) uint8_t controls[kBatch][CMSG_SPACE(sizeof(uint16_t))];
  uint32_t firsts[kBatch];  // first datagram of each message
  uint32_t done = 0;
  while (done < count) {
    // The next batch: one message per run of datagrams to one destination (a single datagram
    // without segmentation); a malformed address is skipped (counted as handled).
    uint32_t n = 0;
    uint32_t i = done;
    while (i < count && n < kBatch) {
      const uint8_t* entry = addresses + static_cast<size_t>(i) * kAddressEntrySize;
      if (!decode(entry, &destinations[n])) {
        i++;
        continue;
      }
      const uint32_t size = offsets[i + 1] - offsets[i];
      uint32_t last = i + 1;
      if (*segmentation) {
        // Equal sizes to one destination; only the last may be shorter (UDP_SEGMENT's rule).
        while (last < count && last - i < kMaxSegments && offsets[last] - offsets[i] + size <= kMaxSegmentedBytes &&
               offsets[last] - offsets[last - 1] == size &&
               std::memcmp(entry, addresses + static_cast<size_t>(last) * kAddressEntrySize, kAddressEntrySize) == 0) {
          const uint32_t next = offsets[last + 1] - offsets[last];
          last++;
          if (next < size) {
            break;
          }
          if (next > size) {
            last--;
            break;
          }
        }
      }
      vectors[n].iov_base = const_cast<uint8_t*>(data + offsets[i]);
      vectors[n].iov_len = offsets[last] - offsets[i];
      std::memset(&messages[n], 0, sizeof(mmsghdr));
      msghdr& header = messages[n].msg_hdr;
      header.msg_name = &destinations[n];
      header.msg_namelen = destinations[n].length;
      header.msg_iov = &vectors[n];
      header.msg_iovlen = 1;
      if (last - i > 1) {
        header.msg_control = controls[n];
        header.msg_controllen = sizeof(controls[n]);
        cmsghdr* cm = CMSG_FIRSTHDR(&header);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t segment = static_cast<uint16_t>(size);
        std::memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
      }
      firsts[n] = i;
      n++;
      i = last;
    }
    if (n == 0) {
      done = i;
      continue;
    }
    int sent = sendmmsg(fd, messages, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      int error = errno;
      if (retryLater(error)) {
        return firsts[0];  // everything before it was sent or skipped
      }
      if (socketUnusable(error)) {
        return -error;
      }
      if (messages[0].msg_hdr.msg_controllen != 0 && (error == EIO || error == EINVAL || error == EOPNOTSUPP)) {
        // No UDP segmentation on this socket or route: plain datagrams from now on.
        *segmentation = false;
        done = firsts[0];
        continue;
      }
      // The first message was refused for itself (EMSGSIZE, EADDRNOTAVAIL, ENETUNREACH...):
      // dropped, as the network would, and go on.
      done = n > 1 ? firsts[1] : i;
      continue;
    }
    // The kernel may take only part of the batch: the next call finds out why.
    done = static_cast<uint32_t>(sent) < n ? firsts[sent] : i;
  }
  return done;
}

#else

bool sendDatagramsAvailable() {
  return false;
}

int64_t sendDatagrams(int, const uint8_t*, const uint32_t*, const uint8_t*, uint32_t, bool*) {
  return 0;
}

#endif

}  // namespace nimbus
