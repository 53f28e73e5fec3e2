#include "PacketKey.h"

#include <openssl/crypto.h>

#include <climits>
#include <cstring>

namespace nimbus {

namespace {
const uint8_t kZeroIv[16] = {0};
thread_local int injectedFailures = 0;

// Consumes one injected failure if any (test hook).
bool injectedFailure() {
  if (injectedFailures > 0) {
    injectedFailures--;
    return true;
  }
  return false;
}

size_t vluLength(uint64_t n) {
  size_t length = 1;
  for (uint64_t v = n >> 7; v > 0; v >>= 7) {
    length++;
  }
  return length;
}
}  // namespace

void PacketKey::injectFailures(int n) {
  injectedFailures = n;
}

void PacketKey::setOptions(const uint8_t* hmacKey, size_t hmacLength, bool sequenceNumbers) {
  if (hmacKey != nullptr) {
    std::memcpy(hmacKey_, hmacKey, kHmacKeySize);
    hmacLength_ = hmacLength;
  }
  sequenceNumbers_ = sequenceNumbers;
}

size_t PacketKey::front() const {
  return (sequenceNumbers_ ? vluLength(txSequence_) : 0) + (hmacLength_ > 0 ? 0 : 2);
}

bool PacketKey::fresh(uint64_t n) const {
  if (!rxAny_ || n > rxHighest_) {
    return true;
  }
  const uint64_t d = rxHighest_ - n;
  return d < kSequenceWindow && (rxWindow_ & (1u << d)) == 0;
}

void PacketKey::accept(uint64_t n) {
  if (!rxAny_ || n > rxHighest_) {
    const uint64_t shift = rxAny_ ? n - rxHighest_ : kSequenceWindow;
    rxWindow_ = shift >= kSequenceWindow ? 1u : (rxWindow_ << shift) | 1u;
    rxHighest_ = n;
    rxAny_ = true;
  } else {
    rxWindow_ |= 1u << (rxHighest_ - n);
  }
}

PacketKey::PacketKey(const uint8_t* key) {
  std::memcpy(key_, key, kKeySize);
}

PacketKey::~PacketKey() {
  EVP_CIPHER_CTX_free(encrypt_);
  EVP_CIPHER_CTX_free(decrypt_);
  OPENSSL_cleanse(key_, kKeySize);
  OPENSSL_cleanse(roundKeys_, kRoundKeysSize);
  OPENSSL_cleanse(hmacKey_, kHmacKeySize);
}

namespace {
inline void xorBlock(uint8_t* block, const uint8_t* state) {
  for (int i = 0; i < 16; i++) {
    block[i] ^= state[i];
  }
}
}  // namespace

bool PacketKey::encrypt(const EVP_CIPHER* cipher, uint8_t* in, size_t n, uint8_t* out) {
  if (n > INT_MAX || !ready(encrypt_, 1, cipher)) {
    return false;
  }
  xorBlock(in, encryptState_);
  int written = 0;
  const bool ok = !injectedFailure() && EVP_CipherUpdate(encrypt_, out, &written, in, static_cast<int>(n)) == 1 &&
                  static_cast<size_t>(written) == n;
  if (in != out) {
    xorBlock(in, encryptState_);  // the caller's plaintext back as it was
  }
  if (!ok) {
    // The chain does not advance on a failed call: the context starts over from a zero IV.
    reset(encrypt_, encryptState_);
    return false;
  }
  std::memcpy(encryptState_, out + n - 16, 16);
  return true;
}

bool PacketKey::decrypt(const EVP_CIPHER* cipher, const uint8_t* in, size_t n, uint8_t* out) {
  if (n > INT_MAX || !ready(decrypt_, 0, cipher)) {
    return false;
  }
  uint8_t last[16];
  std::memcpy(last, in + n - 16, 16);  // before an in-place decryption overwrites it
  int written = 0;
  const bool ok = !injectedFailure() && EVP_CipherUpdate(decrypt_, out, &written, in, static_cast<int>(n)) == 1 &&
                  static_cast<size_t>(written) == n;
  if (!ok) {
    reset(decrypt_, decryptState_);
    return false;
  }
  xorBlock(out, decryptState_);
  std::memcpy(decryptState_, last, 16);
  return true;
}

void PacketKey::reset(EVP_CIPHER_CTX*& ctx, uint8_t* state) {
  EVP_CIPHER_CTX_free(ctx);
  ctx = nullptr;
  std::memset(state, 0, 16);
}

bool PacketKey::ready(EVP_CIPHER_CTX*& ctx, int enc, const EVP_CIPHER* cipher) {
  if (ctx != nullptr) {
    return true;
  }
  EVP_CIPHER_CTX* fresh = EVP_CIPHER_CTX_new();
  // No cipher padding: the RTMFP 0xFF padding is done by the kernel, and lengths are blocks.
  if (fresh == nullptr || EVP_CipherInit_ex(fresh, cipher, nullptr, key_, kZeroIv, enc) != 1 ||
      EVP_CIPHER_CTX_set_padding(fresh, 0) != 1) {
    EVP_CIPHER_CTX_free(fresh);
    return false;
  }
  ctx = fresh;
  return true;
}

}  // namespace nimbus
