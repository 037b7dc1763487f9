// Idempotency keys: the deterministic name of one partial (series, window, revision).
//
//   key = hex(XXH3_128(field(agent_id) ‖ series identity ‖ i64(window_start) ‖ i64(revision)))
//
// where field() is a u32-LE length prefix followed by the bytes and the series identity is
// series_identity.h's canonical encoding (meter, subject, group pairs sorted by name). The key
// is computed once, in the store transaction that moves the partial into the outbox, and stored
// with it: every resend of that row, for any reason, carries the same key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd {

// Returns 32 lowercase hex digits (XXH3-128's canonical big-endian form).
std::string idempotency_key(std::string_view agent_id, std::string_view series_identity,
                            int64_t window_start, int64_t revision);

}  // namespace meterd
