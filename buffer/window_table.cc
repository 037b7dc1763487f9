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

WindowTable::Entry& WindowTable::entry(std::string_view series_identity, int64_t window_start) {
  scratch_key_.assign(series_identity);
  append_i64(&scratch_key_, window_start);
  auto it = entries_.find(std::string_view(scratch_key_));
  if (it == entries_.end()) it = entries_.emplace(scratch_key_, Entry{}).first;
  return it->second;
}

void WindowTable::add(std::string_view series_identity, int64_t window_start, double value,
                      int64_t time_ms) {
  entry(series_identity, window_start).values.add(value, time_ms);
}

void WindowTable::add_distinct(std::string_view series_identity, int64_t window_start,
                               std::string_view distinct_value, int64_t time_ms) {
  Entry& found = entry(series_identity, window_start);
  found.values.add(1, time_ms);
  found.distinct.emplace(distinct_value);
}

void WindowTable::merge_from(const WindowTable& later) {
  for (const auto& [key, later_entry] : later.entries_) {
    auto [it, inserted] = entries_.try_emplace(key, later_entry);
    if (inserted) continue;
    it->second.values.merge(later_entry.values);
    it->second.distinct.insert(later_entry.distinct.begin(), later_entry.distinct.end());
  }
}

void WindowTable::for_each(const std::function<void(std::string_view, int64_t,
                                                    const Accumulator&)>& visit) const {
  for (const auto& [key, found] : entries_) {
    std::string_view view(key);
    visit(view.substr(0, view.size() - 8), window_start_of(view), found.values);
  }
}

void WindowTable::for_each_entry(
    const std::function<void(std::string_view, int64_t, const Accumulator&,
                             const DistinctValues&)>& visit) const {
  for (const auto& [key, found] : entries_) {
    std::string_view view(key);
    visit(view.substr(0, view.size() - 8), window_start_of(view), found.values, found.distinct);
  }
}

}  // namespace meterd
