// Batched writes of already-serialized bytes to many TCP sockets Node owns: see streamWrite.cc.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nimbus {

// One byte range of a piece table (a Buffer's memory).
struct Piece {
  const uint8_t* data;
  size_t length;
};

// For each stream i in [0, count) whose fds[i] >= 0, writes pieces[refs[j]] for j in
// [refOffsets[i], refOffsets[i + 1]), in that order, to the non-blocking stream socket fds[i]
// (writev-like sendmsg, MSG_DONTWAIT | MSG_NOSIGNAL, EINTR retried), and sets results[i] to the
// bytes the kernel took: all of them, fewer when its send buffer filled (0 for EAGAIN), or
// -errno when the socket failed (EPIPE, ECONNRESET...). results[i] is left alone when fds[i] < 0.
// Where this is not available (not Linux) nothing is written and every results[i] is 0.
void writeStreams(uint32_t count, const int32_t* fds, const Piece* pieces, const uint16_t* refs,
                  const uint32_t* refOffsets, int32_t* results);

// Whether writeStreams writes anything on this platform.
bool writeStreamsAvailable();

// The N-API call, registered in addon.cc:
// writeStreams(count, fds: Int32Array, pieces: Buffer[], refs: Uint16Array, refOffsets: Uint32Array,
//              results: Int32Array) -> undefined. Every table is checked against `count` and the
// piece table (a RangeError otherwise). `scratch` is the instance's reusable piece table.
Napi::Value writeStreamsCall(const Napi::CallbackInfo& info, std::vector<Piece>* scratch);

}  // namespace nimbus
