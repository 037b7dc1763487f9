// The health and readiness verdicts (see probes.h).
#include "agent/admin/probes.h"

#include <fmt/format.h>

#include <algorithm>

namespace meterd {
namespace {

// The store's own test (Store::over_size_limit) on the last committed state; when the buffer
// could not be read, the store thread's word from its last commit that held events.
bool buffer_full(const AgentSnapshot& snapshot, const AdminSources& sources) {
  if (!snapshot.buffer_error.empty()) return snapshot.store.refusing;
  return sources.max_size_bytes > 0 && snapshot.buffer_usage_bytes >= sources.max_size_bytes;
}

}  // namespace

Health judge_health(const AgentSnapshot& snapshot, const AdminSources& sources) {
  Health health;
  // A loop that has not ticked yet counts from start-up.
  auto age = [&](int64_t tick_steady_ms) {
    int64_t since = std::max(tick_steady_ms, sources.start_steady_ms);
    return static_cast<double>(snapshot.now_steady_ms - since) / 1000.0;
  };
  health.loops = {LoopAge{"ingest", age(snapshot.ingest.tick_steady_ms)},
                  LoopAge{"store", age(snapshot.store.tick_steady_ms)},
                  LoopAge{"uplink", age(snapshot.uplink.last_tick_steady_ms)}};
  if (snapshot.draining) return health;
  double limit_s = std::max<double>(1.0, 10.0 * static_cast<double>(sources.commit_interval_ms) /
                                             1000.0);
  for (const LoopAge& loop : health.loops) {
    if (loop.seconds > limit_s) {
      if (!health.reason.empty()) health.reason += "; ";
      health.reason += fmt::format(
          "the {} loop has not made progress for {:.1f} s (limit {:.1f} s)",
          loop.loop, loop.seconds, limit_s);
      health.healthy = false;
    }
  }
  return health;
}

Readiness judge_readiness(const AgentSnapshot& snapshot, const AdminSources& sources) {
  Readiness readiness;
  if (snapshot.draining) {
    readiness = {false, "draining: meterd received SIGTERM and is shutting down"};
  } else if (buffer_full(snapshot, sources)) {
    readiness = {false, fmt::format("the buffer is full ({} of {} bytes): events are refused until "
                                    "the outbox drains",
                                    snapshot.buffer_usage_bytes, sources.max_size_bytes)};
  }
  return readiness;
}

}  // namespace meterd
