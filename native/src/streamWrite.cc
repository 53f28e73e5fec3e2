// Batched TCP writes for RTMP fan-out: the memoized chunk bytes of a frame go to every player's
// socket in one N-API call, one sendmsg(2) per player, instead of one trip per player through
// Node's stream machinery (net.Socket.write → Writable → WriteWrap → uv_try_write), which costs
// more user time than the syscall's own bookkeeping. The sockets are Node's own (libuv made them
// non-blocking); we only append bytes to their send buffers, so libuv's state is untouched. The
// caller (src/protocols/rtmp/RtmpSocketWriter.ts) uses this only while Node has nothing queued or
// in flight for a socket, and hands what the kernel did not take to socket.write(), which keeps
// the byte order.
#include "streamWrite.h"

#include <climits>

#if defined(__linux__)
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#endif

namespace nimbus {

#if defined(__linux__)

namespace {

// iovecs per sendmsg; a stream with more pieces (a late joiner's GOP) takes several calls.
constexpr uint32_t kMaxIov = 64;

// Writes one stream's pieces; returns the bytes taken, or -errno when nothing could be written
// because the socket failed.
int64_t writeOne(int fd, const Piece* pieces, const uint16_t* refs, uint32_t n) {
  iovec vectors[kMaxIov];
  int64_t total = 0;
  uint32_t done = 0;
  while (done < n) {
    uint32_t k = 0;
    size_t wanted = 0;
    for (; k < kMaxIov && done + k < n; k++) {
      const Piece& piece = pieces[refs[done + k]];
      vectors[k].iov_base = const_cast<uint8_t*>(piece.data);
      vectors[k].iov_len = piece.length;
      wanted += piece.length;
    }
    msghdr message{};
    message.msg_iov = vectors;
    message.msg_iovlen = k;
    ssize_t written;
    do {
      written = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (written < 0 && errno == EINTR);
    if (written < 0) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        return total;
      }
      // Bytes already taken stay taken: report them, the next write reports the error.
      return total > 0 ? total : -error;
    }
    total += written;
    if (static_cast<size_t>(written) < wanted) {
      return total;  // the send buffer is full
    }
    done += k;
  }
  return total;
}

}  // namespace

bool writeStreamsAvailable() {
  return true;
}

void writeStreams(uint32_t count, const int32_t* fds, const Piece* pieces, const uint16_t* refs,
                  const uint32_t* refOffsets, int32_t* results) {
  for (uint32_t i = 0; i < count; i++) {
    if (fds[i] < 0) {
      continue;
    }
    const uint32_t start = refOffsets[i];
    const int64_t result = writeOne(fds[i], pieces, refs + start, refOffsets[i + 1] - start);
    // One turn's bytes for one player stay far below 2 GiB (the caller bounds them).
    results[i] = static_cast<int32_t>(result > INT32_MAX ? INT32_MAX : result);
  }
}

#else

bool writeStreamsAvailable() {
  return false;
}

void writeStreams(uint32_t count, const int32_t* fds, const Piece*, const uint16_t*, const uint32_t*,
                  int32_t* results) {
  for (uint32_t i = 0; i < count; i++) {
    if (fds[i] >= 0) {
      results[i] = 0;
    }
  }
}

#endif

namespace {

// A TypedArray of `type` with at least `minimum` elements: its memory, or nullptr.
void* typedArrayOf(napi_env env, napi_value value, napi_typedarray_type type, size_t minimum) {
  napi_typedarray_type actual;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &actual, &length, &data, nullptr, nullptr) != napi_ok || actual != type ||
      length < minimum) {
    return nullptr;
  }
  return data;
}

Napi::Value rangeError(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

Napi::Value writeStreamsCall(const Napi::CallbackInfo& info, std::vector<Piece>* scratch) {
  Napi::Env env = info.Env();
  const int64_t count = info[0].As<Napi::Number>().Int64Value();
  if (count < 0 || count > UINT32_MAX / 4 - 1 || !info[2].IsArray()) {
    return rangeError(env, "writeStreams: bad count or piece table");
  }
  const size_t n = static_cast<size_t>(count);
  auto* fds = static_cast<int32_t*>(typedArrayOf(env, info[1], napi_int32_array, n));
  auto* refOffsets = static_cast<uint32_t*>(typedArrayOf(env, info[4], napi_uint32_array, n + 1));
  auto* results = static_cast<int32_t*>(typedArrayOf(env, info[5], napi_int32_array, n));
  if (fds == nullptr || refOffsets == nullptr || results == nullptr) {
    return rangeError(env, "writeStreams: fds, refOffsets or results too short");
  }
  const size_t refCount = refOffsets[n];
  auto* refs = static_cast<uint16_t*>(typedArrayOf(env, info[3], napi_uint16_array, refCount));
  if (refs == nullptr) {
    return rangeError(env, "writeStreams: refs too short");
  }
  for (size_t i = 0; i < n; i++) {
    if (refOffsets[i + 1] < refOffsets[i]) {
      return rangeError(env, "writeStreams: refOffsets not ascending");
    }
  }
  Napi::Array table = info[2].As<Napi::Array>();
  const uint32_t pieceCount = table.Length();
  scratch->resize(pieceCount);
  for (uint32_t k = 0; k < pieceCount; k++) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, table.Get(k), &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      return rangeError(env, "writeStreams: pieces must be Buffers");
    }
    (*scratch)[k] = Piece{static_cast<const uint8_t*>(data), length};
  }
  for (size_t j = 0; j < refCount; j++) {
    if (refs[j] >= pieceCount) {
      return rangeError(env, "writeStreams: piece reference out of range");
    }
  }
  writeStreams(static_cast<uint32_t>(n), fds, scratch->data(), refs, refOffsets, results);
  return env.Undefined();
}

}  // namespace nimbus
