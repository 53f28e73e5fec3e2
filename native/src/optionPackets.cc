// Packets of sessions that negotiated RFC 7425 options (HMAC, session sequence numbers): the
// native twins of TsKernels.sealWithOptions / openWithOptions (src/kernels/ts/TsKernels.ts).
// Their plaintext does not start with the checksum at a fixed place, so it is built in (and
// opened from) the context's own scratch, one packet at a time; Flash-profile keys never get here.
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <cstring>

#include "checksum.h"
#include "rtmfpKernels.h"

namespace nimbus {

namespace {

inline uint32_t readBe32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

size_t writeVlu(uint8_t* at, uint64_t n) {
  size_t length = 1;
  for (uint64_t v = n >> 7; v > 0; v >>= 7) {
    length++;
  }
  uint64_t v = n;
  for (size_t i = length; i-- > 0;) {
    at[i] = static_cast<uint8_t>((v & 0x7f) | (i == length - 1 ? 0 : 0x80));
    v >>= 7;
  }
  return length;
}

// The VLU at [at, end): its length, or 0 (truncated, or longer than kSequenceMaxBytes).
size_t readVlu(const uint8_t* at, const uint8_t* end, uint64_t* value) {
  uint64_t v = 0;
  for (size_t i = 0; at + i < end && i < PacketKey::kSequenceMaxBytes; i++) {
    v = (v << 7) | (at[i] & 0x7f);
    if ((at[i] & 0x80) == 0) {
      *value = v;
      return i + 1;
    }
  }
  return 0;
}

bool tagOf(const PacketKey& key, const uint8_t* data, size_t n, uint8_t* md) {
  unsigned int mdLength = 0;
  return HMAC(EVP_sha256(), key.hmacKey(), static_cast<int>(PacketKey::kHmacKeySize), data, n, md, &mdLength) != nullptr &&
         mdLength == 32;
}

// Ciphertext length of `length` plaintext bytes: padded to 16, never empty.
inline size_t bodyLength(size_t length) {
  return length <= 16 ? 16 : (length + 15) & ~static_cast<size_t>(15);
}

}  // namespace

size_t sealedLength(const PacketKey& key, size_t end) {
  if (!key.hasOptions()) {
    return datagramLength(end);
  }
  return kSsidSize + bodyLength(key.front() + end - kContentOffset) + key.hmacLength();
}

int64_t sealWithOptions(KernelContext& ctx, PacketKey& key, uint32_t ssid, const uint8_t* a, size_t aLength, const uint8_t* b,
                        size_t bLength, uint8_t* out) {
  const size_t front = key.front();
  const size_t content = aLength + bLength;
  const size_t body = bodyLength(front + content);
  uint8_t* plain = ctx.optionScratch.reserve(body);
  size_t at = key.sequenceNumbers() ? writeVlu(plain, key.txSequence()) : 0;
  std::memcpy(plain + front, a, aLength);
  if (bLength > 0) {
    std::memcpy(plain + front + aLength, b, bLength);
  }
  std::memset(plain + front + content, 0xff, body - front - content);
  if (key.hmacLength() == 0) {
    const uint16_t sum = checksum(plain + at + 2, body - at - 2);
    plain[at] = static_cast<uint8_t>(sum >> 8);
    plain[at + 1] = static_cast<uint8_t>(sum);
  }
  if (!key.encrypt(ctx.cipher, plain, body, out + kSsidSize)) {
    return kCryptoFailure;
  }
  if (key.hmacLength() > 0) {
    uint8_t md[32];
    if (!tagOf(key, out + kSsidSize, body, md)) {
      return kCryptoFailure;
    }
    std::memcpy(out + kSsidSize + body, md, key.hmacLength());
  }
  const uint32_t scrambled = ssid ^ readBe32(out + 4) ^ readBe32(out + 8);
  out[0] = static_cast<uint8_t>(scrambled >> 24);
  out[1] = static_cast<uint8_t>(scrambled >> 16);
  out[2] = static_cast<uint8_t>(scrambled >> 8);
  out[3] = static_cast<uint8_t>(scrambled);
  key.sealed();
  return static_cast<int64_t>(kSsidSize + body + key.hmacLength());
}

int64_t openWithOptions(KernelContext& ctx, PacketKey& key, const uint8_t* datagram, size_t length, uint8_t* out) {
  if (length <= kSsidSize + key.hmacLength() || ((length - kSsidSize - key.hmacLength()) & 15) != 0) {
    return kBadLength;
  }
  const size_t body = length - kSsidSize - key.hmacLength();
  const uint8_t* cipher = datagram + kSsidSize;
  if (key.hmacLength() > 0) {
    uint8_t md[32];
    if (!tagOf(key, cipher, body, md)) {
      return kCryptoFailure;
    }
    if (CRYPTO_memcmp(md, cipher + body, key.hmacLength()) != 0) {
      return kBadChecksum;
    }
  }
  uint8_t* plain = ctx.optionScratch.reserve(body);
  if (!key.decrypt(ctx.cipher, cipher, body, plain)) {
    return kCryptoFailure;
  }
  size_t at = 0;
  uint64_t sequence = 0;
  if (key.sequenceNumbers()) {
    at = readVlu(plain, plain + body, &sequence);
    if (at == 0) {
      return kBadLength;
    }
    if (!key.fresh(sequence)) {
      return kReplayed;
    }
  }
  if (key.hmacLength() == 0) {
    if (body - at < 2) {
      return kBadLength;
    }
    const uint32_t expected = (static_cast<uint32_t>(plain[at]) << 8) | plain[at + 1];
    at += 2;
    if (checksum(plain + at, body - at) != expected) {
      return kBadChecksum;
    }
  }
  if (key.sequenceNumbers()) {
    key.accept(sequence);
  }
  std::memmove(out + 2, plain + at, body - at);
  return static_cast<int64_t>(2 + body - at);
}

}  // namespace nimbus
