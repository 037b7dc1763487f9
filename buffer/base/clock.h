// The agent's wall clock in unix milliseconds: event-time defaults and window closing use it.
#pragma once

#include <chrono>
#include <cstdint>

namespace meterd {

inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A monotonic clock in milliseconds (any origin): dedup keys age by it, since a wall clock
// stepped forward would expire them early.
inline int64_t steady_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace meterd
