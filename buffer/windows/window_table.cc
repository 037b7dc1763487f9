// The delta table's accumulate and visit operations (see window_table.h).
#include "buffer/windows/window_table.h"

#include "buffer/identity/series_identity.h"

namespace meterd {

std::string WindowTable::distinct_key(std::string_view series_identity, int64_t window_start) {
  std::string key(series_identity);
  append_i64(&key, window_start);
  return key;
}

void WindowTable::add_distinct(std::string_view series_identity, int64_t window_start,
                               std::string_view distinct_value, int64_t time_ms) {
  entries_.at(series_identity, window_start).add(1, time_ms);
  distinct_[distinct_key(series_identity, window_start)].emplace(distinct_value);
}

void WindowTable::merge_from(const WindowTable& later) {
  later.entries_.for_each([this](std::string_view identity, int64_t window_start,
                                 const Accumulator& accumulator) {
    entries_.at(identity, window_start).merge(accumulator);
  });
  for (const auto& [key, values] : later.distinct_) distinct_[key].insert(values.begin(), values.end());
}

void WindowTable::for_each(const std::function<void(std::string_view, int64_t,
                                                    const Accumulator&)>& visit) const {
  entries_.for_each(visit);
}

void WindowTable::for_each_entry(
    const std::function<void(std::string_view, int64_t, const Accumulator&,
                             const DistinctValues&)>& visit) const {
  static const DistinctValues kNone;
  entries_.for_each([&](std::string_view identity, int64_t window_start,
                        const Accumulator& accumulator) {
    if (distinct_.empty()) return visit(identity, window_start, accumulator, kNone);
    auto found = distinct_.find(distinct_key(identity, window_start));
    visit(identity, window_start, accumulator, found == distinct_.end() ? kNone : found->second);
  });
}

}  // namespace meterd
