#include "aesMultiBuffer.h"

#if NIMBUS_MULTIBUFFER_AES
#include <immintrin.h>
#endif

namespace nimbus {

#if NIMBUS_MULTIBUFFER_AES

#define NIMBUS_AES_TARGET __attribute__((target("aes,sse2")))

namespace {

NIMBUS_AES_TARGET inline __m128i expandStep(__m128i key, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, assist);
}

// `L` lanes for `blocks` blocks from block `first`, chain states in `state`. The round loop runs
// over the lanes innermost, which is what lets the AES unit overlap them.
template <int L>
NIMBUS_AES_TARGET void interleave(const AesLane* lanes, size_t first, size_t blocks, __m128i* state) {
  const __m128i* rk[L];
  for (int l = 0; l < L; l++) {
    rk[l] = reinterpret_cast<const __m128i*>(lanes[l].roundKeys);
  }
  for (size_t b = first; b < first + blocks; b++) {
    __m128i s[L];
    for (int l = 0; l < L; l++) {
      __m128i plain = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lanes[l].in + b * 16));
      s[l] = _mm_xor_si128(_mm_xor_si128(state[l], plain), rk[l][0]);
    }
    for (int r = 1; r < 10; r++) {
      for (int l = 0; l < L; l++) {
        s[l] = _mm_aesenc_si128(s[l], rk[l][r]);
      }
    }
    for (int l = 0; l < L; l++) {
      state[l] = _mm_aesenclast_si128(s[l], rk[l][10]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes[l].out + b * 16), state[l]);
    }
  }
}

template <int L>
NIMBUS_AES_TARGET void encryptGroup(const AesLane* lanes) {
  __m128i state[L];
  size_t common = lanes[0].blocks;
  for (int l = 0; l < L; l++) {
    state[l] = _mm_setzero_si128();  // the zero IV
    common = lanes[l].blocks < common ? lanes[l].blocks : common;
  }
  interleave<L>(lanes, 0, common, state);
  for (int l = 0; l < L; l++) {
    if (lanes[l].blocks > common) {
      interleave<1>(lanes + l, common, lanes[l].blocks - common, state + l);
    }
  }
}

}  // namespace

bool multiBufferAesAvailable() {
  static const bool available = __builtin_cpu_supports("aes") != 0;
  return available;
}

NIMBUS_AES_TARGET void expandAes128Key(const uint8_t* key, uint8_t* roundKeys) {
  __m128i* rk = reinterpret_cast<__m128i*>(roundKeys);
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  // The round constants must be immediates, hence no loop.
  rk[1] = expandStep(rk[0], _mm_aeskeygenassist_si128(rk[0], 0x01));
  rk[2] = expandStep(rk[1], _mm_aeskeygenassist_si128(rk[1], 0x02));
  rk[3] = expandStep(rk[2], _mm_aeskeygenassist_si128(rk[2], 0x04));
  rk[4] = expandStep(rk[3], _mm_aeskeygenassist_si128(rk[3], 0x08));
  rk[5] = expandStep(rk[4], _mm_aeskeygenassist_si128(rk[4], 0x10));
  rk[6] = expandStep(rk[5], _mm_aeskeygenassist_si128(rk[5], 0x20));
  rk[7] = expandStep(rk[6], _mm_aeskeygenassist_si128(rk[6], 0x40));
  rk[8] = expandStep(rk[7], _mm_aeskeygenassist_si128(rk[7], 0x80));
  rk[9] = expandStep(rk[8], _mm_aeskeygenassist_si128(rk[8], 0x1b));
  rk[10] = expandStep(rk[9], _mm_aeskeygenassist_si128(rk[9], 0x36));
}

void encryptLanes(const AesLane* lanes, int count) {
  // Groups of 8, then 4, then single lanes: fixed lane counts let the compiler keep every
  // lane's state in registers.
  while (count >= 8) {
    encryptGroup<8>(lanes);
    lanes += 8;
    count -= 8;
  }
  if (count >= 4) {
    encryptGroup<4>(lanes);
    lanes += 4;
    count -= 4;
  }
  for (; count > 0; count--, lanes++) {
    encryptGroup<1>(lanes);
  }
}

#else  // no multi-buffer path in this build: callers check multiBufferAesAvailable() first

bool multiBufferAesAvailable() {
  return false;
}
void expandAes128Key(const uint8_t*, uint8_t*) {}
void encryptLanes(const AesLane*, int) {}

#endif

}  // namespace nimbus
