// The per-meter, per-window series count behind the cardinality bound (see series_limiter.h).
#include "agent/meters/series_limiter.h"

#include <algorithm>

#include "buffer/base/same_text.h"
#include "buffer/identity/series_identity.h"

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

SeriesLimiter::Window* SeriesLimiter::find_window(std::string_view series_identity,
                                                  int64_t window_start) {
  scratch_key_.assign(slug_field(series_identity));
  append_i64(&scratch_key_, window_start);
  for (Recent& recent : recent_) {
    if (recent.window && same_text(recent.key, scratch_key_)) return recent.window;
  }
  auto it = windows_.find(scratch_key_);
  if (it == windows_.end()) return nullptr;
  remember(&it->second);
  return &it->second;
}

SeriesLimiter::Window& SeriesLimiter::window(std::string_view series_identity,
                                             int64_t window_start, int64_t now_ms) {
  Window* found = find_window(series_identity, window_start);
  if (!found) {
    found = &windows_[scratch_key_];  // the key find_window wrote
    found->closes_on_time_ms = window_start * 1000 + window_size_ms_ + grace_ms_;
    remember(found);
  }
  found->last_used_ms = std::max(found->last_used_ms, now_ms);
  return *found;
}

void SeriesLimiter::remember(Window* found) {
  Recent& replaced = recent_[next_recent_];
  next_recent_ = (next_recent_ + 1) % std::size(recent_);
  replaced.key.assign(scratch_key_);  // into the old key's storage: no allocation
  replaced.window = found;
}

bool SeriesLimiter::check(std::string_view series_identity, int64_t window_start, int64_t limit,
                          int64_t now_ms, Admission* admission) {
  if (now_ms >= next_expiry_ms_) expire(now_ms);
  admission->hash = series_identity_hash(series_identity);
  admission->window = find_window(series_identity, window_start);
  admission->counted = false;
  if (!admission->window) return limit > 0;  // an empty count, made by admit()
  Window& found = *admission->window;
  found.last_used_ms = std::max(found.last_used_ms, now_ms);
  admission->counted = found.series.contains(admission->hash);
  return admission->counted || static_cast<int64_t>(found.series.size()) < limit;
}

void SeriesLimiter::count(const Admission& admission, std::string_view series_identity,
                          int64_t window_start, int64_t now_ms) {
  Window& found =
      admission.window ? *admission.window : window(series_identity, window_start, now_ms);
  found.series.insert(admission.hash);
}

bool SeriesLimiter::admit(std::string_view series_identity, int64_t window_start, int64_t limit,
                          int64_t now_ms) {
  Admission admission;
  if (!check(series_identity, window_start, limit, now_ms, &admission)) return false;
  admit(admission, series_identity, window_start, now_ms);
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
