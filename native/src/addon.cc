// N-API glue for the RTMFP kernels (node-addon-api, NAPI_VERSION pinned in binding.gyp).
//
// Context-aware: all state lives in the Addon instance that node-addon-api attaches to each
// environment (main thread, every worker_thread), never in globals, so the addon loads in any
// number of workers. Argument order mirrors the Kernels interface (src/kernels/Kernels.ts); the
// FanOutBatch object arrives flattened (src/kernels/native/NativeKernels.ts), since reading
// object properties through N-API costs more than passing them.
//
// Arguments are trusted in type (rule 7: the TS wrapper is the only caller), but every offset is
// checked against its buffer: a wrong length here would corrupt memory instead of throwing.
#include <napi.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>

#include "PacketKey.h"
#include "aesMultiBuffer.h"
#include "checksum.h"
#include "rtmfpKernels.h"
#include "socketHandover.h"
#include "streamWrite.h"
#include "udpReceive.h"
#include "udpSend.h"

namespace nimbus {
namespace {

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
};

size_t elementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 1;
  }
}

// The bytes of a TypedArray of exactly `expected` type (a Buffer is a Uint8Array), length in
// bytes. Anything else (another element type reinterpreted as these would be a wrong length or
// alignment, a non-array) leaves a TypeError pending and gives {nullptr, 0}: the caller returns.
Bytes bytesOf(napi_env env, napi_value value, napi_typedarray_type expected, const char* name) {
  napi_typedarray_type type;
  size_t count = 0;
  void* data = nullptr;
  Bytes bytes;
  if (napi_get_typedarray_info(env, value, &type, &count, &data, nullptr, nullptr) == napi_ok && type == expected) {
    bytes.data = static_cast<uint8_t*>(data);
    bytes.length = count * elementSize(type);
    return bytes;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const char* want = expected == napi_uint8_array ? "a Uint8Array or Buffer" : expected == napi_uint32_array ? "a Uint32Array" : expected == napi_int32_array ? "an Int32Array" : "a typed array";
    std::string message = std::string(name) + " must be " + want;
    napi_throw_type_error(env, nullptr, message.c_str());
  }
  return bytes;
}

// A number argument; anything else leaves a TypeError pending and gives -1 (which every caller
// refuses as out of range before it could be used).
int64_t intOf(const Napi::Value& value) {
  if (!value.IsNumber()) {
    bool pending = false;
    napi_is_exception_pending(value.Env(), &pending);
    if (!pending) {
      Napi::TypeError::New(value.Env(), "expected a number").ThrowAsJavaScriptException();
    }
    return -1;
  }
  return value.As<Napi::Number>().Int64Value();
}

// [start, start + n) within a buffer of `length` bytes, without an overflowing sum.
bool within(int64_t start, int64_t n, size_t length) {
  return start >= 0 && n >= 0 && static_cast<uint64_t>(n) <= length && static_cast<uint64_t>(start) <= length - static_cast<uint64_t>(n);
}

// Whether an argument check left an exception (the method returns at once).
bool failed(Napi::Env env) {
  return env.IsExceptionPending();
}

Napi::Value rangeError(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

PacketKey* keyOf(Napi::Env env, const Napi::Value& value) {
  if (!value.IsExternal()) {
    Napi::TypeError::New(env, "not a native PacketKey (keys must come from the same kernels)")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return value.As<Napi::External<PacketKey>>().Data();
}

Napi::Value resultOf(Napi::Env env, int64_t result) {
  if (result == kOutOfRange) {
    return rangeError(env, "output buffer too short");
  }
  if (result == kCryptoFailure) {
    Napi::Error::New(env, "OpenSSL AES-128-CBC failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(result));
}

class KernelsAddon : public Napi::Addon<KernelsAddon> {
 public:
  KernelsAddon(Napi::Env env, Napi::Object exports) {
#if OPENSSL_VERSION_MAJOR >= 3
    // Fetched once per instance: the legacy EVP_aes_128_cbc() handle would be looked up in the
    // provider on every context creation.
    fetched_ = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
    context_.cipher = fetched_;
#else
    context_.cipher = EVP_aes_128_cbc();
#endif
    if (context_.cipher == nullptr) {
      Napi::Error::New(env, "OpenSSL has no AES-128-CBC").ThrowAsJavaScriptException();
      return;
    }
    DefineAddon(exports, {
        InstanceValue("napiVersion", Napi::Number::New(env, NAPI_VERSION)),
        InstanceMethod("checksum", &KernelsAddon::Checksum),
        InstanceMethod("createPacketKey", &KernelsAddon::CreatePacketKey),
        InstanceMethod("sealedLength", &KernelsAddon::SealedLength),
        InstanceMethod("injectCryptoFailures", &KernelsAddon::InjectCryptoFailures),
        InstanceMethod("encryptPacket", &KernelsAddon::EncryptPacket),
        InstanceMethod("decryptPacket", &KernelsAddon::DecryptPacket),
        InstanceMethod("encryptFanOut", &KernelsAddon::EncryptFanOut),
        InstanceMethod("encryptPackets", &KernelsAddon::EncryptPackets),
        InstanceMethod("decryptPackets", &KernelsAddon::DecryptPackets),
        InstanceMethod("setMultiBufferAes", &KernelsAddon::SetMultiBufferAes),
        InstanceValue("sendDatagramsAvailable", Napi::Boolean::New(env, sendDatagramsAvailable())),
        InstanceMethod("sendDatagrams", &KernelsAddon::SendDatagrams),
        InstanceMethod("receiveDatagrams", &KernelsAddon::ReceiveDatagrams),
        InstanceMethod("setUdpSegmentation", &KernelsAddon::SetUdpSegmentation),
        InstanceValue("writeStreamsAvailable", Napi::Boolean::New(env, writeStreamsAvailable())),
        InstanceMethod("writeStreams", &KernelsAddon::WriteStreams),
        InstanceValue("duplicateStreamAvailable", Napi::Boolean::New(env, duplicateStreamAvailable())),
        InstanceMethod("duplicateStream", &KernelsAddon::DuplicateStream),
        InstanceMethod("closeDescriptor", &KernelsAddon::CloseDescriptor),
    });
  }

  ~KernelsAddon() {
#if OPENSSL_VERSION_MAJOR >= 3
    // Keys still alive hold their own reference to the cipher (their EVP contexts do).
    EVP_CIPHER_free(fetched_);
#endif
  }

 private:
  // checksum(buf, start, end)
  Napi::Value Checksum(const Napi::CallbackInfo& info) {
    Bytes buf = bytesOf(info.Env(), info[0], napi_uint8_array, "buf");
    int64_t start = intOf(info[1]);
    int64_t end = intOf(info[2]);
    if (failed(info.Env())) {
      return info.Env().Undefined();
    }
    if (!within(start, end - start, buf.length)) {
      return rangeError(info.Env(), "checksum range out of bounds");
    }
    return Napi::Number::New(info.Env(), checksum(buf.data + start, static_cast<size_t>(end - start)));
  }

  // createPacketKey(key, hmacKey | undefined, hmacLength, sequenceNumbers) -> External
  Napi::Value CreatePacketKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes raw = bytesOf(env, info[0], napi_uint8_array, "key");
    Bytes hmacKey{nullptr, 0};
    int64_t hmacLength = 0;
    if (!info[1].IsUndefined()) {
      hmacKey = bytesOf(env, info[1], napi_uint8_array, "hmacKey");
      hmacLength = intOf(info[2]);
    }
    const bool sequenceNumbers = info[3].ToBoolean().Value();
    if (failed(env)) {
      return env.Undefined();
    }
    if (raw.length != PacketKey::kKeySize) {
      return rangeError(env, "an AES-128 key is 16 bytes");
    }
    if (hmacKey.data != nullptr && hmacKey.length != PacketKey::kHmacKeySize) {
      return rangeError(env, "an HMAC-SHA-256 key is 32 bytes");
    }
    if (hmacKey.data != nullptr && (hmacLength < 4 || hmacLength > 32)) {
      return rangeError(env, "an HMAC tag is 4 to 32 bytes");
    }
    Napi::MemoryManagement::AdjustExternalMemory(env, PacketKey::kExternalBytes);
    PacketKey* made = new PacketKey(raw.data);
    made->setOptions(hmacKey.data, static_cast<size_t>(hmacLength), sequenceNumbers);
    return Napi::External<PacketKey>::New(env, made, [](Napi::Env finalEnv, PacketKey* key) {
      delete key;
      Napi::MemoryManagement::AdjustExternalMemory(finalEnv, -PacketKey::kExternalBytes);
    });
  }

  // sealedLength(key, end) -> the datagram length encryptPacket would return now
  Napi::Value SealedLength(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    PacketKey* key = keyOf(env, info[0]);
    int64_t end = intOf(info[1]);
    if (key == nullptr || failed(env)) {
      return env.Undefined();
    }
    if (end < static_cast<int64_t>(kContentOffset)) {
      return rangeError(env, "packet end before the content offset");
    }
    return Napi::Number::New(env, static_cast<double>(sealedLength(*key, static_cast<size_t>(end))));
  }

  // injectCryptoFailures(n): the next n AES calls of this thread fail (tests only: what a failure leaves behind)
  Napi::Value InjectCryptoFailures(const Napi::CallbackInfo& info) {
    PacketKey::injectFailures(static_cast<int>(intOf(info[0])));
    return info.Env().Undefined();
  }

  // encryptPacket(key, ssid, packet, end, out, outOffset)
  Napi::Value EncryptPacket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    PacketKey* key = keyOf(env, info[0]);
    if (key == nullptr) {
      return env.Undefined();
    }
    uint32_t ssid = static_cast<uint32_t>(intOf(info[1]));
    Bytes packet = bytesOf(env, info[2], napi_uint8_array, "packet");
    int64_t end = intOf(info[3]);
    Bytes out = bytesOf(env, info[4], napi_uint8_array, "out");
    int64_t outOffset = intOf(info[5]);
    if (failed(env)) {
      return env.Undefined();
    }
    if (end < static_cast<int64_t>(kContentOffset)) {
      return rangeError(env, "packet end before the content offset");
    }
    int64_t length = static_cast<int64_t>(datagramLength(static_cast<size_t>(end)));
    int64_t sealed = static_cast<int64_t>(sealedLength(*key, static_cast<size_t>(end)));
    if (!within(0, length, packet.length) || !within(outOffset, sealed, out.length)) {
      return rangeError(env, "packet or output buffer too short for the padded datagram");
    }
    return resultOf(env, encryptPacket(context_, *key, ssid, packet.data, static_cast<size_t>(end), out.data + outOffset));
  }

  // decryptPacket(key, datagram, start, end, out, outOffset)
  Napi::Value DecryptPacket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    PacketKey* key = keyOf(env, info[0]);
    if (key == nullptr) {
      return env.Undefined();
    }
    Bytes datagram = bytesOf(env, info[1], napi_uint8_array, "datagram");
    int64_t start = intOf(info[2]);
    int64_t end = intOf(info[3]);
    Bytes out = bytesOf(env, info[4], napi_uint8_array, "out");
    int64_t outOffset = intOf(info[5]);
    if (failed(env)) {
      return env.Undefined();
    }
    int64_t length = end - start;
    const int64_t tag = static_cast<int64_t>(key->hmacLength());
    if (length <= static_cast<int64_t>(kSsidSize) + tag || ((length - kSsidSize - tag) & 15) != 0) {
      return Napi::Number::New(env, static_cast<double>(kBadLength));  // before any bounds: as TS
    }
    if (!within(start, length, datagram.length) || !within(outOffset, length - kSsidSize, out.length)) {
      return rangeError(env, "datagram or output range out of bounds");
    }
    return resultOf(env, decryptPacket(context_, *key, datagram.data + start, static_cast<size_t>(length),
                                       out.data + outOffset));
  }

  // encryptFanOut(count, keys, ssids, heads, headOffsets, payload, payloadStart, payloadEnd, out, outOffsets)
  Napi::Value EncryptFanOut(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t count = intOf(info[0]);
    if (!info[1].IsArray()) {
      Napi::TypeError::New(env, "keys must be an array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array keyArray = info[1].As<Napi::Array>();
    Bytes ssids = bytesOf(env, info[2], napi_uint32_array, "ssids");
    Bytes heads = bytesOf(env, info[3], napi_uint8_array, "heads");
    Bytes headOffsets = bytesOf(env, info[4], napi_uint32_array, "headOffsets");
    Bytes payload = bytesOf(env, info[5], napi_uint8_array, "payload");
    int64_t payloadStart = intOf(info[6]);
    int64_t payloadEnd = intOf(info[7]);
    Bytes out = bytesOf(env, info[8], napi_uint8_array, "out");
    Bytes outOffsets = bytesOf(env, info[9], napi_uint32_array, "outOffsets");
    if (failed(env)) {
      return env.Undefined();
    }
    if (count < 0 || count > UINT32_MAX / 4) {
      return rangeError(env, "fan-out batch count out of range");
    }
    const size_t n = static_cast<size_t>(count);
    if (keyArray.Length() < n || ssids.length < n * 4 || headOffsets.length < (n + 1) * 4 ||
        outOffsets.length < (n + 1) * 4 || !within(payloadStart, payloadEnd - payloadStart, payload.length)) {
      return rangeError(env, "fan-out batch arrays or payload range out of bounds");
    }
    const uint32_t* offsets = reinterpret_cast<const uint32_t*>(headOffsets.data);
    for (size_t i = 0; i < n; i++) {
      if (offsets[i + 1] < offsets[i] || offsets[i + 1] > heads.length) {
        return rangeError(env, "fan-out head offsets out of bounds");
      }
    }
    if (!collectKeys(env, keyArray, n)) {
      return env.Undefined();
    }
    FanOutArgs args{static_cast<uint32_t>(n),
                    keys_.data(),
                    reinterpret_cast<const uint32_t*>(ssids.data),
                    heads.data,
                    offsets,
                    payload.data + payloadStart,
                    static_cast<size_t>(payloadEnd - payloadStart),
                    out.data,
                    out.length,
                    reinterpret_cast<uint32_t*>(outOffsets.data)};
    return resultOf(env, encryptFanOut(context_, args));
  }

  // decryptPackets(count, keys, datagrams, starts, ends, results): each opened in place 4 bytes to the left
  Napi::Value DecryptPackets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t count = intOf(info[0]);
    if (!info[1].IsArray()) {
      Napi::TypeError::New(env, "keys must be an array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array keyArray = info[1].As<Napi::Array>();
    Bytes datagrams = bytesOf(env, info[2], napi_uint8_array, "datagrams");
    Bytes starts = bytesOf(env, info[3], napi_uint32_array, "starts");
    Bytes ends = bytesOf(env, info[4], napi_uint32_array, "ends");
    Bytes results = bytesOf(env, info[5], napi_int32_array, "results");
    if (failed(env)) {
      return env.Undefined();
    }
    if (count < 0 || count > UINT32_MAX / 4) {
      return rangeError(env, "decrypt batch count out of range");
    }
    const size_t n = static_cast<size_t>(count);
    if (keyArray.Length() < n || starts.length < n * 4 || ends.length < n * 4 || results.length < n * 4) {
      return rangeError(env, "decrypt batch arrays too short");
    }
    const uint32_t* s = reinterpret_cast<const uint32_t*>(starts.data);
    const uint32_t* e = reinterpret_cast<const uint32_t*>(ends.data);
    for (size_t i = 0; i < n; i++) {
      if (e[i] < s[i] || !within(s[i], e[i] - s[i], datagrams.length)) {
        return rangeError(env, "decrypt batch: a datagram is out of bounds");
      }
    }
    if (!collectKeys(env, keyArray, n)) {
      return env.Undefined();
    }
    int32_t* out = reinterpret_cast<int32_t*>(results.data);
    for (size_t i = 0; i < n; i++) {
      const size_t length = e[i] - s[i];
      const size_t tag = keys_[i]->hmacLength();
      int64_t result = kBadLength;
      if (length > kSsidSize + tag && ((length - kSsidSize - tag) & 15) == 0) {
        result = decryptPacket(context_, *keys_[i], datagrams.data + s[i], length, datagrams.data + s[i] + kSsidSize);
      }
      if (result == kCryptoFailure) {
        return resultOf(env, result);
      }
      out[i] = static_cast<int32_t>(result);
    }
    return env.Undefined();
  }

  // encryptPackets(count, keys, ssids, packets, starts, ends, out, outOffsets)
  Napi::Value EncryptPackets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t count = intOf(info[0]);
    if (!info[1].IsArray()) {
      Napi::TypeError::New(env, "keys must be an array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array keyArray = info[1].As<Napi::Array>();
    Bytes ssids = bytesOf(env, info[2], napi_uint32_array, "ssids");
    Bytes packets = bytesOf(env, info[3], napi_uint8_array, "packets");
    Bytes starts = bytesOf(env, info[4], napi_uint32_array, "starts");
    Bytes ends = bytesOf(env, info[5], napi_uint32_array, "ends");
    Bytes out = bytesOf(env, info[6], napi_uint8_array, "out");
    Bytes outOffsets = bytesOf(env, info[7], napi_uint32_array, "outOffsets");
    if (failed(env)) {
      return env.Undefined();
    }
    if (count < 0 || count > UINT32_MAX / 4 - 1) {
      return rangeError(env, "packet batch count out of range");
    }
    const size_t n = static_cast<size_t>(count);
    if (keyArray.Length() < n || ssids.length < n * 4 || starts.length < n * 4 || ends.length < n * 4 ||
        outOffsets.length < (n + 1) * 4) {
      return rangeError(env, "packet batch arrays too short");
    }
    const uint32_t* s = reinterpret_cast<const uint32_t*>(starts.data);
    const uint32_t* e = reinterpret_cast<const uint32_t*>(ends.data);
    for (size_t i = 0; i < n; i++) {
      if (e[i] < s[i] + kContentOffset || !within(s[i], static_cast<int64_t>(datagramLength(e[i] - s[i])), packets.length)) {
        return rangeError(env, "packet batch: a packet is out of bounds (or has no room for its padding)");
      }
    }
    if (out.data < packets.data + packets.length && packets.data < out.data + out.length) {
      return rangeError(env, "packet batch: out overlaps the packets");
    }
    if (!collectKeys(env, keyArray, n)) {
      return env.Undefined();
    }
    PacketBatchArgs args{static_cast<uint32_t>(n), keys_.data(), reinterpret_cast<const uint32_t*>(ssids.data),
                         packets.data, s, e, out.data, out.length, reinterpret_cast<uint32_t*>(outOffsets.data)};
    return resultOf(env, encryptPackets(context_, args));
  }

  // setMultiBufferAes(enabled) -> whether fan-out now uses multi-buffer AES-NI (this thread only)
  Napi::Value SetMultiBufferAes(const Napi::CallbackInfo& info) {
    context_.multiBuffer = info[0].ToBoolean().Value();
    return Napi::Boolean::New(info.Env(), context_.multiBuffer && multiBufferAesAvailable());
  }

  // sendDatagrams(fd, data, offsets, addresses, count) -> datagrams handled, or -errno
  Napi::Value SendDatagrams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t fd = intOf(info[0]);
    Bytes data = bytesOf(env, info[1], napi_uint8_array, "data");
    Bytes offsets = bytesOf(env, info[2], napi_uint32_array, "offsets");
    Bytes addresses = bytesOf(env, info[3], napi_uint8_array, "addresses");
    int64_t count = intOf(info[4]);
    if (failed(env)) {
      return env.Undefined();
    }
    if (fd < 0 || fd > INT32_MAX || count < 0 || count > UINT32_MAX / 4 - 1) {
      return rangeError(env, "sendDatagrams: bad socket or count");
    }
    const size_t n = static_cast<size_t>(count);
    if (offsets.length < (n + 1) * 4 || addresses.length < n * kAddressEntrySize) {
      return rangeError(env, "sendDatagrams: offsets or addresses too short");
    }
    const uint32_t* table = reinterpret_cast<const uint32_t*>(offsets.data);
    for (size_t i = 0; i < n; i++) {
      if (table[i + 1] < table[i] || table[i + 1] > data.length) {
        return rangeError(env, "sendDatagrams: datagram offsets out of bounds");
      }
    }
    return Napi::Number::New(env, static_cast<double>(sendDatagrams(static_cast<int>(fd), data.data, table, addresses.data,
                                                                    static_cast<uint32_t>(n), &segmentation_)));
  }

  // writeStreams(count, fds, pieces, refs, refOffsets, results): streamWrite.h
  Napi::Value WriteStreams(const Napi::CallbackInfo& info) {
    return writeStreamsCall(info, &pieces_);
  }

  // receiveDatagrams(fd, slab, slot, max, lengths, addresses) -> datagrams read, or -errno
  Napi::Value ReceiveDatagrams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t fd = intOf(info[0]);
    Bytes slab = bytesOf(env, info[1], napi_uint8_array, "slab");
    int64_t slot = intOf(info[2]);
    int64_t max = intOf(info[3]);
    Bytes lengths = bytesOf(env, info[4], napi_uint32_array, "lengths");
    Bytes addresses = bytesOf(env, info[5], napi_uint8_array, "addresses");
    if (failed(env)) {
      return env.Undefined();
    }
    if (fd < 0 || fd > INT32_MAX || slot <= 0 || slot > 65536 || max < 0 || max > 256) {
      return rangeError(env, "receiveDatagrams: bad socket, slot or count");
    }
    const size_t n = static_cast<size_t>(max);
    if (slab.length < n * static_cast<size_t>(slot) || lengths.length < n * 4 || addresses.length < n * kAddressEntrySize) {
      return rangeError(env, "receiveDatagrams: slab, lengths or addresses too short");
    }
    return Napi::Number::New(env, static_cast<double>(receiveDatagrams(static_cast<int>(fd), slab.data, static_cast<uint32_t>(slot),
                                                                       static_cast<uint32_t>(n), reinterpret_cast<uint32_t*>(lengths.data),
                                                                       addresses.data)));
  }

  // duplicateStream(fd) -> a new descriptor of the stream socket, or -errno
  Napi::Value DuplicateStream(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) {
      return rangeError(env, "duplicateStream: the descriptor must be a number");
    }
    int64_t fd = intOf(info[0]);
    if (fd < 0 || fd > INT32_MAX) {
      return rangeError(env, "duplicateStream: bad descriptor");
    }
    return Napi::Number::New(env, static_cast<double>(duplicateStream(static_cast<int>(fd))));
  }

  // closeDescriptor(fd) -> 0 or -errno
  Napi::Value CloseDescriptor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) {
      return rangeError(env, "closeDescriptor: the descriptor must be a number");
    }
    int64_t fd = intOf(info[0]);
    if (fd < 0 || fd > INT32_MAX) {
      return rangeError(env, "closeDescriptor: bad descriptor");
    }
    return Napi::Number::New(env, static_cast<double>(closeDescriptor(static_cast<int>(fd))));
  }

  // setUdpSegmentation(enabled) -> whether sendDatagrams may use UDP_SEGMENT (this thread)
  Napi::Value SetUdpSegmentation(const Napi::CallbackInfo& info) {
    segmentation_ = info[0].ToBoolean().Value() && sendDatagramsAvailable();
    return Napi::Boolean::New(info.Env(), segmentation_);
  }

  // The first n keys of a batch into keys_ (reused per call); false (a TypeError pending) on a foreign key.
  bool collectKeys(Napi::Env env, const Napi::Array& keyArray, size_t n) {
    keys_.resize(n);
    for (uint32_t i = 0; i < n; i++) {
      keys_[i] = keyOf(env, keyArray.Get(i));
      if (keys_[i] == nullptr) {
        return false;
      }
    }
    return true;
  }

  KernelContext context_{};
  bool segmentation_ = sendDatagramsAvailable();  // cleared for good by a socket that refuses it
  std::vector<PacketKey*> keys_;  // reused per fan-out call
  std::vector<Piece> pieces_;     // reused per writeStreams call
#if OPENSSL_VERSION_MAJOR >= 3
  EVP_CIPHER* fetched_ = nullptr;
#endif
};

}  // namespace
}  // namespace nimbus

// The macro pastes the class name into identifiers: it needs a plain name.
using nimbus::KernelsAddon;
NODE_API_ADDON(KernelsAddon)
