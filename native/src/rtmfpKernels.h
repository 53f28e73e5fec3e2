// The RTMFP packet kernels on raw memory, the native twins of src/kernels/ts/TsKernels.ts (same
// contract, Kernels.ts; same bytes, test/unit/kernels). No N-API here: addon.cc checks the
// arguments and bounds, these functions only compute.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "PacketKey.h"

namespace nimbus {

constexpr size_t kSsidSize = 4;
constexpr size_t kContentOffset = 6;
// decryptPacket results, as in Kernels.ts.
constexpr int64_t kBadLength = -1;
constexpr int64_t kBadChecksum = -2;
constexpr int64_t kReplayed = -3;
// Internal failures, turned into JS exceptions by addon.cc.
constexpr int64_t kOutOfRange = -100;
constexpr int64_t kCryptoFailure = -101;

// Datagram length for a packet buffer whose content ends at `end` (rtmfpDatagramLength).
inline size_t datagramLength(size_t end) {
  return kSsidSize + ((end - kSsidSize + 15) & ~static_cast<size_t>(15));
}

// Per-thread scratch memory (one per addon instance, so per worker), grown in 4 KiB steps.
class Scratch {
 public:
  uint8_t* reserve(size_t n) {
    if (bytes_.size() < n) {
      bytes_.resize((n + 4095) & ~static_cast<size_t>(4095));
    }
    return bytes_.data();
  }

 private:
  std::vector<uint8_t> bytes_;
};

// Everything a kernel call needs besides its arguments: the AES-128-CBC implementation fetched
// once per instance, and scratch memory.
struct KernelContext {
  const EVP_CIPHER* cipher;
  Scratch scratch;
  // Plaintext of packets with RFC 7425 options (optionPackets.cc), apart from `scratch`, which
  // a fan-out holds its lanes in while such a packet is sealed.
  Scratch optionScratch;
  // Fan-out through multi-buffer AES-NI when the CPU has it (aesMultiBuffer.h); switchable so
  // that tests and benchmarks can compare it with the OpenSSL path.
  bool multiBuffer = true;
};

// encryptPacket: `packet` holds content at [6, end) and room up to datagramLength(end); the
// datagram goes to `out` (which may be `packet` itself). Returns the datagram length.
int64_t encryptPacket(KernelContext& ctx, PacketKey& key, uint32_t ssid, uint8_t* packet, size_t end, uint8_t* out);

// decryptPacket: `datagram` points at the SSID, `length` bytes long; the plaintext (checksum
// first) goes to `out`, which may overlap the datagram. Returns the plaintext length or
// kBadLength / kBadChecksum.
int64_t decryptPacket(KernelContext& ctx, PacketKey& key, const uint8_t* datagram, size_t length, uint8_t* out);

// The datagram length encryptPacket returns for content ending at `end` with this key.
size_t sealedLength(const PacketKey& key, size_t end);

// Keys with RFC 7425 options (optionPackets.cc). sealWithOptions: the content a ++ b, sealed
// into `out` (room: sealedLength); returns the datagram length. openWithOptions: as
// decryptPacket, with the content moved to out + 2; returns 2 + content length.
int64_t sealWithOptions(KernelContext& ctx, PacketKey& key, uint32_t ssid, const uint8_t* a, size_t aLength, const uint8_t* b,
                        size_t bLength, uint8_t* out);
int64_t openWithOptions(KernelContext& ctx, PacketKey& key, const uint8_t* datagram, size_t length, uint8_t* out);

struct FanOutArgs {
  uint32_t count;
  PacketKey* const* keys;
  const uint32_t* ssids;
  const uint8_t* heads;
  const uint32_t* headOffsets;  // count + 1 entries
  const uint8_t* payload;
  size_t payloadLength;
  uint8_t* out;
  size_t outCapacity;
  uint32_t* outOffsets;  // count + 1 entries
};

struct PacketBatchArgs {
  uint32_t count;
  PacketKey* const* keys;
  const uint32_t* ssids;
  uint8_t* packets;       // packet i at [starts[i], ends[i]): 6 bytes for SSID and checksum, then content
  const uint32_t* starts;
  const uint32_t* ends;
  uint8_t* out;
  size_t outCapacity;
  uint32_t* outOffsets;  // count + 1 entries
};

// encryptPackets: packet i sealed with keys[i] and ssids[i] (as encryptPacket), the datagrams
// back to back from out[0]. Packets get their padding and checksum written in place. Returns the
// total length, or kOutOfRange if `out` is too short. `out` must not overlap `packets`.
int64_t encryptPackets(KernelContext& ctx, const PacketBatchArgs& args);

// encryptFanOut: one datagram per session, back to back from out[0]. Returns the total length,
// or kOutOfRange if `out` is too short (nothing past outCapacity is written). `out` must not
// overlap the batch's inputs.
int64_t encryptFanOut(KernelContext& ctx, const FanOutArgs& args);

}  // namespace nimbus
