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

  static constexpr size_t kHmacKeySize = 32;
  static constexpr uint32_t kSequenceWindow = 32;     // Kernels.ts SEQUENCE_WINDOW
  static constexpr size_t kSequenceMaxBytes = 7;      // Kernels.ts SEQUENCE_NUMBER_MAX_BYTES

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
  // RFC 7425 packet options (Kernels.ts PacketKeyOptions): an HMAC-SHA-256 key with its tag
  // length (nullptr: the checksum stays), session sequence numbers.
  void setOptions(const uint8_t* hmacKey, size_t hmacLength, bool sequenceNumbers);
  bool hasOptions() const { return hmacLength_ > 0 || sequenceNumbers_; }
  size_t hmacLength() const { return hmacLength_; }
  bool sequenceNumbers() const { return sequenceNumbers_; }
  const uint8_t* hmacKey() const { return hmacKey_; }
  // Bytes in front of the content: the sequence number, then the checksum unless there is a tag.
  size_t front() const;
  uint64_t txSequence() const { return txSequence_; }
  void sealed() { txSequence_++; }
  bool fresh(uint64_t n) const;
  void accept(uint64_t n);

  // Test hook (addon injectCryptoFailures): the next `n` AES calls on this thread fail as an
  // OpenSSL failure would, so tests can check what a failure leaves behind.
  static void injectFailures(int n);

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
  uint8_t hmacKey_[kHmacKeySize] = {0};
  size_t hmacLength_ = 0;
  bool sequenceNumbers_ = false;
  uint64_t txSequence_ = 0;
  // Highest sequence number accepted (valid once rxAny_), and bit d = (highest - d) seen.
  uint64_t rxHighest_ = 0;
  uint32_t rxWindow_ = 0;
  bool rxAny_ = false;
};

}  // namespace nimbus
