// Idempotency keys: the deterministic name of one partial (buffer, series, window, revision).
//
//   key = hex(XXH3_128(field(buffer_id) ‖ series identity ‖ i64(window_start)
//                      ‖ i64(window_size_s) ‖ i64(revision)))
//
// where field() is a u32-LE length prefix followed by the bytes, the series identity is
// series_identity.h's canonical encoding (meter, subject, group pairs sorted by name) and i64 is
// little-endian. The buffer id is random, made when the buffer file is created (store.h), so two
// buffers never share a key even under one agent id: a buffer lost between runs (deleted, moved
// aside as damaged, a container without a volume) starts its revisions from 0 again, and with
// the agent id alone its window would get the key of a partial already in Kafka, with other
// contents. The window size is there so that a change of `windows.size` cannot name two windows
// with one start alike.
//
// The key is computed once, in the store transaction that moves the partial into the outbox, and
// stored with it: every resend of that row, for any reason, carries the same key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd {

// Returns 32 lowercase hex digits (XXH3-128's canonical big-endian form).
std::string idempotency_key(std::string_view buffer_id, std::string_view series_identity,
                            int64_t window_start, int64_t window_size_s, int64_t revision);

// A new buffer id: 32 lowercase hex digits of 128 bits from the kernel's random source.
std::string new_buffer_id();

}  // namespace meterd
