// The per-meter, per-window series count behind the cardinality bound (see series_limiter.h).
#include "agent/series_limiter.h"

#include <algorithm>

#include "agent/same_text.h"
#include "buffer/series_identity.h"

namespace meterd {
namespace {

// The length-prefixed first field of an identity: the meter's slug.
std::string_view slug_field(std::string_view identity) {
  if (identity.size() < 4) return identity;
  size_t length = 0;
  for (int i = 3; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(identity[i]);
  return identity.substr(0, std::min(identity.size(), 4 + length));
}

}  // namespace

SeriesLimiter::Window& SeriesLimiter::window(std::string_view series_identity,
                                             int64_t window_start, int64_t now_ms) {
  scratch_key_.assign(slug_field(series_identity));
  append_i64(&scratch_key_, window_start);
  Window* found = nullptr;
  for (Recent& recent : recent_) {
    if (recent.window && same_text(recent.key, scratch_key_)) {
      found = recent.window;
      break;
    }
  }
  if (!found) {
    auto [it, inserted] = windows_.try_emplace(scratch_key_);
    if (inserted) it->second.closes_on_time_ms = window_start * 1000 + window_size_ms_ + grace_ms_;
    found = &it->second;
    Recent& replaced = recent_[next_recent_];
    next_recent_ = (next_recent_ + 1) % std::size(recent_);
    replaced.key.assign(scratch_key_);  // into the old key's storage: no allocation
    replaced.window = found;
  }
  found->last_used_ms = std::max(found->last_used_ms, now_ms);
  return *found;
}

bool SeriesLimiter::admit(std::string_view series_identity, int64_t window_start, int64_t limit,
                          int64_t now_ms) {
  if (now_ms >= next_expiry_ms_) expire(now_ms);
  Window& found = window(series_identity, window_start, now_ms);
  uint64_t hash = series_identity_hash(series_identity);
  if (found.series.contains(hash)) return true;
  if (static_cast<int64_t>(found.series.size()) >= limit) return false;
  found.series.insert(hash);
  return true;
}

void SeriesLimiter::seed(std::string_view series_identity, int64_t window_start, int64_t now_ms) {
  window(series_identity, window_start, now_ms)
      .series.insert(series_identity_hash(series_identity));
}

void SeriesLimiter::expire(int64_t now_ms) {
  // Once a second is enough: a window lingers at most that long beyond its grace.
  next_expiry_ms_ = now_ms + 1000;
  for (Recent& recent : recent_) recent.window = nullptr;
  std::erase_if(windows_, [&](const auto& entry) {
    const Window& w = entry.second;
    return w.closes_on_time_ms < now_ms && w.last_used_ms + grace_ms_ < now_ms;
  });
}

size_t SeriesLimiter::tracked_series() const {
  size_t total = 0;
  for (const auto& [key, w] : windows_) total += w.series.size();
  return total;
}

}  // namespace meterd
