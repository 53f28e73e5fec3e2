// The RTMFP checksum (rtmfp.md §1.1), the same function as src/kernels/ts/checksum.ts: RFC 1071
// ones'-complement sum of big-endian 16-bit words, an odd trailing byte added unshifted (as
// Cumulus and rtmfp-cpp do), carries folded, result inverted.
//
// Sums here are "folded": reduced to 16 bits with end-around carries, so they are exact modulo
// 0xFFFF and are 0 only when every byte summed was 0. That is what lets the fan-out kernel add
// precomputed pieces (head, shared payload, padding) instead of summing each datagram again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nimbus {

inline uint32_t foldSum(uint64_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint32_t>(sum);
}

// Swapping the bytes of a folded sum multiplies it by 256 modulo 0xFFFF (RFC 1071 §2(B)).
inline uint32_t swapSum(uint32_t sum) {
  return ((sum & 0xff) << 8) | (sum >> 8);
}

// Folded sum of p[0, n) as big-endian words, an odd last byte unshifted.
inline uint32_t wordSum(const uint8_t* p, size_t n) {
  // Bulk: 8 bytes per turn as two native-order 32-bit lanes (a 32-bit lane is two words modulo
  // 0xFFFF), then one byte swap on little-endian hosts: far fewer operations than word by word.
  uint64_t wide = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    wide += (w & 0xffffffffu) + (w >> 32);
  }
  uint32_t bulk = foldSum(wide);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  uint64_t sum = bulk;
#else
  uint64_t sum = swapSum(bulk);
#endif
  for (; i + 1 < n; i += 2) {
    sum += (static_cast<uint32_t>(p[i]) << 8) | p[i + 1];
  }
  if (i < n) {
    sum += p[i];
  }
  return foldSum(sum);
}

// Folded sum of p[0, n) placed at an even offset of a longer summed area: an odd last byte is the
// high half of a word there (the fan-out head and payload are followed by more bytes).
inline uint32_t alignedSum(const uint8_t* p, size_t n) {
  uint32_t sum = wordSum(p, n);
  return (n & 1) != 0 ? foldSum(sum + 255u * p[n - 1]) : sum;
}

inline uint16_t checksum(const uint8_t* p, size_t n) {
  return static_cast<uint16_t>(~wordSum(p, n) & 0xffff);
}

}  // namespace nimbus
