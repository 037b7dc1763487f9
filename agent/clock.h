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

}  // namespace meterd
