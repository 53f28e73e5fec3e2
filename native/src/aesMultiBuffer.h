// Multi-buffer AES-128-CBC for the fan-out kernel: up to 8 independent sessions encrypted in
// lock step with AES-NI.
//
// CBC encryption is serial within one packet (each block needs the previous ciphertext), so one
// packet leaves the AES unit idle most of the time: an AESENC takes ~4 cycles to produce its
// result but the unit accepts a new one every cycle. Fan-out has N packets with N keys and no
// dependency between them, so interleaving 8 of them keeps the unit busy: in bench/micro/fanOut.ts
// a 1188-byte datagram costs ~4x less AES time than through EVP one packet at a time.
//
// Only for x86-64 with GCC or Clang, and only when the CPU has AES-NI (checked at run time; the
// functions carry their own target attribute, so the addon itself needs no -maes and still runs
// on CPUs without it). Everything else goes through OpenSSL. The bytes are those of OpenSSL's
// zero-IV AES-128-CBC (test/unit/kernels compares them with the TS kernels, hence node:crypto).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NIMBUS_MULTIBUFFER_AES 1
#else
#define NIMBUS_MULTIBUFFER_AES 0
#endif

namespace nimbus {

constexpr size_t kRoundKeysSize = 176;  // 11 round keys of AES-128
constexpr int kMaxLanes = 8;

// True when this build and this CPU can run the functions below.
bool multiBufferAesAvailable();

// AES-128 key schedule of `key` into `roundKeys` (16-byte aligned, kRoundKeysSize bytes).
void expandAes128Key(const uint8_t* key, uint8_t* roundKeys);

// One lane: zero-IV CBC of in[0, blocks * 16) into out with its round keys.
struct AesLane {
  const uint8_t* roundKeys;
  const uint8_t* in;
  uint8_t* out;
  size_t blocks;
};

// Encrypts `count` (1..kMaxLanes) lanes, interleaved for as many blocks as they all have, then
// the longer ones' remaining blocks one lane at a time. `in` and `out` must not overlap.
void encryptLanes(const AesLane* lanes, int count);

}  // namespace nimbus
