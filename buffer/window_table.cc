// The delta table's accumulate and visit operations (see window_table.h).
#include "buffer/window_table.h"

#include "buffer/series_identity.h"

namespace meterd {
namespace {

int64_t window_start_of(std::string_view key) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) {
    bits |= uint64_t(static_cast<unsigned char>(key[key.size() - 8 + i])) << (8 * i);
  }
  return static_cast<int64_t>(bits);
}

}  // namespace

void WindowTable::add(std::string_view series_identity, int64_t window_start, double value,
                      int64_t time_ms) {
  scratch_key_.assign(series_identity);
  append_i64(&scratch_key_, window_start);
  auto it = entries_.find(std::string_view(scratch_key_));
  if (it == entries_.end()) it = entries_.emplace(scratch_key_, Accumulator{}).first;
  it->second.add(value, time_ms);
}

void WindowTable::merge_from(const WindowTable& later) {
  for (const auto& [key, accumulator] : later.entries_) {
    auto [it, inserted] = entries_.try_emplace(key, accumulator);
    if (!inserted) it->second.merge(accumulator);
  }
}

void WindowTable::for_each(const std::function<void(std::string_view, int64_t,
                                                    const Accumulator&)>& visit) const {
  for (const auto& [key, accumulator] : entries_) {
    std::string_view view(key);
    visit(view.substr(0, view.size() - 8), window_start_of(view), accumulator);
  }
}

}  // namespace meterd
