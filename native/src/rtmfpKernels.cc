#include "rtmfpKernels.h"

#include <algorithm>
#include <cstring>

#include "checksum.h"

namespace nimbus {

namespace {

inline uint32_t readBe32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

// RFC 7016 §2.2.2: the session ID travels XOR-ed with the first two words of the ciphertext.
inline void writeScrambledSsid(uint8_t* datagram, uint32_t ssid) {
  uint32_t scrambled = ssid ^ readBe32(datagram + 4) ^ readBe32(datagram + 8);
  datagram[0] = static_cast<uint8_t>(scrambled >> 24);
  datagram[1] = static_cast<uint8_t>(scrambled >> 16);
  datagram[2] = static_cast<uint8_t>(scrambled >> 8);
  datagram[3] = static_cast<uint8_t>(scrambled);
}

inline bool overlaps(const uint8_t* a, const uint8_t* b, size_t n) {
  return a < b + n && b < a + n;
}

// OpenSSL's CBC accepts out == in but not a partial overlap (the callers' buffers may be one
// buffer at different offsets): such calls go through scratch, with the same final bytes.
bool encryptBlocks(KernelContext& ctx, PacketKey& key, uint8_t* in, size_t n, uint8_t* out) {
  if (in != out && overlaps(in, out, n)) {
    uint8_t* tmp = ctx.scratch.reserve(n);
    std::memcpy(tmp, in, n);
    return key.encrypt(ctx.cipher, tmp, n, out);
  }
  return key.encrypt(ctx.cipher, in, n, out);
}

// Padded length from the checksum field: `2 + content + 0xFF padding`, a multiple of 16.
inline size_t paddedBodyLength(size_t contentLength) {
  return (contentLength + 2 + 15) & ~static_cast<size_t>(15);
}

}  // namespace

int64_t encryptPacket(KernelContext& ctx, PacketKey& key, uint32_t ssid, uint8_t* packet, size_t end, uint8_t* out) {
  if (key.hasOptions()) {
    return sealWithOptions(ctx, key, ssid, packet + kContentOffset, end - kContentOffset, nullptr, 0, out);
  }
  const size_t bodyEnd = kSsidSize + paddedBodyLength(end - kContentOffset);
  std::memset(packet + end, 0xff, bodyEnd - end);
  const uint16_t sum = checksum(packet + kContentOffset, bodyEnd - kContentOffset);
  packet[4] = static_cast<uint8_t>(sum >> 8);
  packet[5] = static_cast<uint8_t>(sum);
  if (!encryptBlocks(ctx, key, packet + kSsidSize, bodyEnd - kSsidSize, out + kSsidSize)) {
    return kCryptoFailure;
  }
  writeScrambledSsid(out, ssid);
  return static_cast<int64_t>(bodyEnd);
}

int64_t decryptPacket(KernelContext& ctx, PacketKey& key, const uint8_t* datagram, size_t length, uint8_t* out) {
  if (key.hasOptions()) {
    return openWithOptions(ctx, key, datagram, length, out);
  }
  if (length <= kSsidSize || ((length - kSsidSize) & 15) != 0) {
    return kBadLength;
  }
  const size_t n = length - kSsidSize;
  const uint8_t* in = datagram + kSsidSize;
  bool ok;
  if (in != out && overlaps(in, out, n)) {
    // The usual call decrypts "in place" 4 bytes to the left (over the SSID): through scratch.
    uint8_t* tmp = ctx.scratch.reserve(n);
    ok = key.decrypt(ctx.cipher, in, n, tmp);
    std::memmove(out, tmp, n);
  } else {
    ok = key.decrypt(ctx.cipher, in, n, out);
  }
  if (!ok) {
    return kCryptoFailure;
  }
  const uint32_t expected = (static_cast<uint32_t>(out[0]) << 8) | out[1];
  return checksum(out + 2, n - 2) == expected ? static_cast<int64_t>(n) : kBadChecksum;
}

namespace {

// The shared part of one fan-out batch: the payload's folded sum, computed once.
struct FanOutPayload {
  size_t at;      // offset of the payload in a lane area (2 + longest head)
  size_t length;
  size_t stride;  // bytes per lane area: [checksum + longest head][payload][16 x 0xFF]
  uint32_t sum;   // at an even offset of a datagram's summed area
  uint32_t swapped;  // at an odd one (RFC 1071 byte-order independence)
};

// Lays out `lanes` areas of scratch, each holding one copy of the payload and its 0xFF tail, so
// that a session's plaintext becomes contiguous once its head is copied in front of the payload.
uint8_t* prepareLanes(KernelContext& ctx, const FanOutArgs& a, FanOutPayload& p, int lanes) {
  uint32_t maxHead = 0;
  for (uint32_t i = 0; i < a.count; i++) {
    maxHead = std::max(maxHead, a.headOffsets[i + 1] - a.headOffsets[i]);
  }
  p.at = 2 + maxHead;
  p.length = a.payloadLength;
  p.stride = (p.at + p.length + 16 + 63) & ~static_cast<size_t>(63);
  uint8_t* scratch = ctx.scratch.reserve(p.stride * static_cast<size_t>(lanes));
  for (int l = 0; l < lanes; l++) {
    uint8_t* area = scratch + p.stride * static_cast<size_t>(l);
    std::memcpy(area + p.at, a.payload, p.length);
    std::memset(area + p.at + p.length, 0xff, 16);
  }
  p.sum = alignedSum(scratch + p.at, p.length);
  p.swapped = swapSum(p.sum);
  return scratch;
}

// Copies session i's head in front of the payload in `area` and writes the checksum before it.
// Returns where the plaintext starts (the checksum); `body` gets its padded length.
uint8_t* placeHead(const FanOutArgs& a, const FanOutPayload& p, uint32_t i, uint8_t* area, size_t& body) {
  const size_t headLength = a.headOffsets[i + 1] - a.headOffsets[i];
  uint8_t* head = area + p.at - headLength;
  std::memcpy(head, a.heads + a.headOffsets[i], headLength);
  const size_t contentLength = headLength + p.length;
  body = paddedBodyLength(contentLength);
  const size_t padding = body - 2 - contentLength;
  // 0xFF padding: bytes at even offsets of the summed area are high halves of words.
  const size_t padHigh = (contentLength & 1) != 0 ? padding >> 1 : (padding + 1) >> 1;
  uint64_t sum = alignedSum(head, headLength);
  sum += (headLength & 1) != 0 ? p.swapped : p.sum;
  sum += (padHigh * 256 + (padding - padHigh)) * 0xff;
  const uint16_t value = static_cast<uint16_t>(~foldSum(sum) & 0xffff);
  head[-2] = static_cast<uint8_t>(value >> 8);
  head[-1] = static_cast<uint8_t>(value);
  return head - 2;
}

// Fan-out datagram i for a key with RFC 7425 options, at out + offset; its length or an error.
int64_t sealOneWithOptions(KernelContext& ctx, const FanOutArgs& a, uint32_t i, size_t offset) {
  const size_t headLength = a.headOffsets[i + 1] - a.headOffsets[i];
  if (offset + sealedLength(*a.keys[i], kContentOffset + headLength + a.payloadLength) > a.outCapacity) {
    return kOutOfRange;
  }
  a.outOffsets[i] = static_cast<uint32_t>(offset);
  return sealWithOptions(ctx, *a.keys[i], a.ssids[i], a.heads + a.headOffsets[i], headLength, a.payload, a.payloadLength,
                         a.out + offset);
}

// One session at a time through OpenSSL (CPUs without AES-NI, other architectures).
int64_t fanOutSerial(KernelContext& ctx, const FanOutArgs& a) {
  FanOutPayload p;
  uint8_t* area = prepareLanes(ctx, a, p, 1);
  size_t offset = 0;
  for (uint32_t i = 0; i < a.count; i++) {
    if (a.keys[i]->hasOptions()) {
      const int64_t n = sealOneWithOptions(ctx, a, i, offset);
      if (n < 0) {
        return n;
      }
      offset += static_cast<size_t>(n);
      continue;
    }
    size_t body;
    uint8_t* plain = placeHead(a, p, i, area, body);
    if (offset + kSsidSize + body > a.outCapacity) {
      return kOutOfRange;
    }
    uint8_t* datagram = a.out + offset;
    if (!a.keys[i]->encrypt(ctx.cipher, plain, body, datagram + kSsidSize)) {
      return kCryptoFailure;
    }
    writeScrambledSsid(datagram, a.ssids[i]);
    a.outOffsets[i] = static_cast<uint32_t>(offset);
    offset += kSsidSize + body;
  }
  a.outOffsets[a.count] = static_cast<uint32_t>(offset);
  return static_cast<int64_t>(offset);
}

// Where the datagrams of a batch go, and which key and session ID each is sealed with.
struct SealTargets {
  uint32_t count;
  PacketKey* const* keys;
  const uint32_t* ssids;
  uint8_t* out;
  size_t outCapacity;
  uint32_t* outOffsets;  // count + 1 entries
};

// Seals `t.count` plaintexts eight at a time, interleaved on the AES unit (aesMultiBuffer.h):
// `plainOf(i, lane, body)` returns where plaintext i starts (checksum first, padded) and sets its
// length; keys with RFC 7425 options go through `sealAlone(i, offset)` instead (their length or
// an error). The datagrams go back to back from t.out. Returns the total or an error.
template <typename PlainOf, typename SealAlone>
int64_t sealInLanes(const SealTargets& t, PlainOf plainOf, SealAlone sealAlone) {
  AesLane group[kMaxLanes];
  uint32_t members[kMaxLanes];
  int n = 0;
  const auto flush = [&]() {
    encryptLanes(group, n);
    for (int l = 0; l < n; l++) {
      writeScrambledSsid(group[l].out - kSsidSize, t.ssids[members[l]]);
    }
    n = 0;
  };
  size_t offset = 0;
  for (uint32_t i = 0; i < t.count; i++) {
    if (t.keys[i]->hasOptions()) {
      const int64_t length = sealAlone(i, offset);
      if (length < 0) {
        return length;
      }
      offset += static_cast<size_t>(length);
      continue;
    }
    size_t body;
    const uint8_t* plain = plainOf(i, n, body);
    if (offset + kSsidSize + body > t.outCapacity) {
      return kOutOfRange;  // nothing of this group written yet
    }
    group[n] = AesLane{t.keys[i]->roundKeys(), plain, t.out + offset + kSsidSize, body / 16};
    members[n++] = i;
    t.outOffsets[i] = static_cast<uint32_t>(offset);
    offset += kSsidSize + body;
    if (n == static_cast<int>(kMaxLanes)) {
      flush();
    }
  }
  flush();
  t.outOffsets[t.count] = static_cast<uint32_t>(offset);
  return static_cast<int64_t>(offset);
}

// Fan-out: eight sessions' heads in front of their lane's copy of the payload.
int64_t fanOutMultiBuffer(KernelContext& ctx, const FanOutArgs& a) {
  FanOutPayload p;
  const int lanes = static_cast<int>(std::min<uint32_t>(a.count, kMaxLanes));
  uint8_t* scratch = prepareLanes(ctx, a, p, lanes);
  const SealTargets targets{a.count, a.keys, a.ssids, a.out, a.outCapacity, a.outOffsets};
  return sealInLanes(
      targets,
      [&](uint32_t i, int lane, size_t& body) -> const uint8_t* {
        return placeHead(a, p, i, scratch + p.stride * static_cast<size_t>(lane), body);
      },
      [&](uint32_t i, size_t offset) { return sealOneWithOptions(ctx, a, i, offset); });
}

}  // namespace

namespace {

// Pads packet i with 0xFF and writes its checksum; returns the padded body length (from the checksum).
size_t sealInPlace(const PacketBatchArgs& a, uint32_t i) {
  uint8_t* packet = a.packets + a.starts[i];
  const size_t end = a.ends[i] - a.starts[i];
  const size_t bodyEnd = kSsidSize + paddedBodyLength(end - kContentOffset);
  std::memset(packet + end, 0xff, bodyEnd - end);
  const uint16_t sum = checksum(packet + kContentOffset, bodyEnd - kContentOffset);
  packet[4] = static_cast<uint8_t>(sum >> 8);
  packet[5] = static_cast<uint8_t>(sum);
  return bodyEnd - kSsidSize;
}

// Packet i of the batch for a key with RFC 7425 options, at out + offset; its length or an error.
int64_t sealPacketWithOptions(KernelContext& ctx, const PacketBatchArgs& a, uint32_t i, size_t offset) {
  const size_t end = a.ends[i] - a.starts[i];
  if (offset + sealedLength(*a.keys[i], end) > a.outCapacity) {
    return kOutOfRange;
  }
  a.outOffsets[i] = static_cast<uint32_t>(offset);
  return sealWithOptions(ctx, *a.keys[i], a.ssids[i], a.packets + a.starts[i] + kContentOffset, end - kContentOffset, nullptr, 0,
                         a.out + offset);
}

int64_t packetsSerial(KernelContext& ctx, const PacketBatchArgs& a) {
  size_t offset = 0;
  for (uint32_t i = 0; i < a.count; i++) {
    if (a.keys[i]->hasOptions()) {
      const int64_t n = sealPacketWithOptions(ctx, a, i, offset);
      if (n < 0) {
        return n;
      }
      offset += static_cast<size_t>(n);
      continue;
    }
    const size_t body = sealInPlace(a, i);
    if (offset + kSsidSize + body > a.outCapacity) {
      return kOutOfRange;
    }
    uint8_t* datagram = a.out + offset;
    if (!a.keys[i]->encrypt(ctx.cipher, a.packets + a.starts[i] + kSsidSize, body, datagram + kSsidSize)) {
      return kCryptoFailure;
    }
    writeScrambledSsid(datagram, a.ssids[i]);
    a.outOffsets[i] = static_cast<uint32_t>(offset);
    offset += kSsidSize + body;
  }
  a.outOffsets[a.count] = static_cast<uint32_t>(offset);
  return static_cast<int64_t>(offset);
}

// Eight packets at a time on the AES unit: independent zero-IV CBCs, whatever their sessions.
int64_t packetsMultiBuffer(KernelContext& ctx, const PacketBatchArgs& a) {
  const SealTargets targets{a.count, a.keys, a.ssids, a.out, a.outCapacity, a.outOffsets};
  return sealInLanes(
      targets,
      [&](uint32_t i, int, size_t& body) -> const uint8_t* {
        body = sealInPlace(a, i);
        return a.packets + a.starts[i] + kSsidSize;
      },
      [&](uint32_t i, size_t offset) { return sealPacketWithOptions(ctx, a, i, offset); });
}

}  // namespace

int64_t encryptPackets(KernelContext& ctx, const PacketBatchArgs& a) {
  return ctx.multiBuffer && multiBufferAesAvailable() ? packetsMultiBuffer(ctx, a) : packetsSerial(ctx, a);
}

int64_t encryptFanOut(KernelContext& ctx, const FanOutArgs& a) {
  return ctx.multiBuffer && multiBufferAesAvailable() ? fanOutMultiBuffer(ctx, a) : fanOutSerial(ctx, a);
}

}  // namespace nimbus
