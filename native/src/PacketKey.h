// One RTMFP session key with its OpenSSL state (the native side of `PacketKey`, Kernels.ts).
//
// Each direction gets its own EVP context, made on first use: a session uses one key to encrypt
// and another to decrypt, so most keys only ever need one context. Every packet must be a fresh
// zero-IV CBC, but re-initialising the IV costs more than the AES work of a small packet in
// OpenSSL 3 (EVP_CipherInit_ex goes through provider parameter lookups by name), so the contexts
// keep chaining and the chain is cancelled instead, the same trick as the TS kernels
// (src/kernels/ts/TsPacketKey.ts): block 0 of a packet is fed as `P0 ^ S` (S = last ciphertext
// block), which CBC turns into E(P0), the zero-IV result; decryption XORs S back into block 0.
// OpenSSL comes from Node's own headers and symbols, so AES-NI is used wherever Node uses it.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

#include "aesMultiBuffer.h"

namespace nimbus {

class PacketKey {
 public:
  static constexpr size_t kKeySize = 16;
  // What a key costs in native memory once both contexts exist (told to V8 so that GC pressure
  // follows the number of live sessions).
  static constexpr int64_t kExternalBytes = 2048;

  explicit PacketKey(const uint8_t* key);
  ~PacketKey();
  PacketKey(const PacketKey&) = delete;
  PacketKey& operator=(const PacketKey&) = delete;

  // Zero-IV AES-128-CBC of in[0, n) (n a non-zero multiple of 16) into out. `out` may equal `in`
  // but must not overlap it otherwise; `in` is left as it was (unless it is `out`). False if
  // OpenSSL fails (allocation): the key is then unusable.
  bool encrypt(const EVP_CIPHER* cipher, uint8_t* in, size_t n, uint8_t* out);
  bool decrypt(const EVP_CIPHER* cipher, const uint8_t* in, size_t n, uint8_t* out);

  // The AES-128 key schedule for the multi-buffer fan-out path (aesMultiBuffer.h), made on first
  // use. That path does fresh zero-IV CBC itself and never touches the EVP chain states.
  const uint8_t* roundKeys() {
    if (!expanded_) {
      expandAes128Key(key_, roundKeys_);
      expanded_ = true;
    }
    return roundKeys_;
  }

 private:
  bool ready(EVP_CIPHER_CTX*& ctx, int enc, const EVP_CIPHER* cipher);
  // After a failed EVP call: the context is dropped (remade from a zero IV) and the chain state zeroed.
  static void reset(EVP_CIPHER_CTX*& ctx, uint8_t* state);

  uint8_t key_[kKeySize];
  EVP_CIPHER_CTX* encrypt_ = nullptr;
  EVP_CIPHER_CTX* decrypt_ = nullptr;
  // Last ciphertext block produced by encrypt_ / fed to decrypt_: their CBC chain state.
  uint8_t encryptState_[16] = {0};
  uint8_t decryptState_[16] = {0};
  alignas(16) uint8_t roundKeys_[kRoundKeysSize];
  bool expanded_ = false;
};

}  // namespace nimbus
