// WindowTable: the in-memory delta table of one commit interval.
//
// The ingest thread adds every matched event to it; every `commit_interval` the store thread takes
// the whole table (swapping in an empty one) and merges it into SQLite in one transaction. Entries
// are keyed by series identity plus window start, so each series and window costs one hash entry
// per interval however many events it receives. UNIQUE_COUNT meters also keep the interval's
// distinct values per entry (a set, so a value repeated within the interval costs nothing more).
// Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "buffer/windows/accumulator.h"
#include "buffer/windows/window_map.h"

namespace meterd {

// The distinct values (UNIQUE_COUNT) one entry saw in the interval; empty for other meters.
using DistinctValues = std::unordered_set<std::string>;

class WindowTable {
 public:
  // Adds `value` at `time_ms` to the window starting at `window_start` (unix seconds) of the
  // series `series_identity` (series_identity.h encoding).
  void add(std::string_view series_identity, int64_t window_start, double value, int64_t time_ms) {
    entries_.at(series_identity, window_start).add(value, time_ms);
  }
  // The same for a UNIQUE_COUNT meter: counts the event and remembers `distinct_value`.
  void add_distinct(std::string_view series_identity, int64_t window_start,
                    std::string_view distinct_value, int64_t time_ms);

  // Entries by position (window_map.h): where (hash, identity, window_start)'s entry is,
  // created empty on first use; where the entry with `hash` is, or WindowMap::kAbsent; and the
  // accumulator at a position.
  size_t place(WindowMap::Hash hash, std::string_view series_identity, int64_t window_start) {
    return entries_.place(hash, series_identity, window_start);
  }
  size_t position_of(WindowMap::Hash hash) { return entries_.position_of(hash); }
  Accumulator& accumulator_at(size_t position) { return entries_.accumulator_at(position); }
  // Sizes an empty table for an interval like `previous`.
  void reserve_like(const WindowTable& previous) {
    entries_.reserve(previous.entries_.size(), previous.entries_.identity_bytes());
  }

  // Visits every entry; `series_identity` views stay valid until the table changes.
  void for_each(const std::function<void(std::string_view series_identity, int64_t window_start,
                                         const Accumulator&)>& visit) const;
  // The same with each entry's distinct values.
  void for_each_entry(const std::function<void(std::string_view series_identity, int64_t window_start,
                                         const Accumulator&, const DistinctValues&)>& visit) const;

  // Folds every entry of `later` (deltas that arrived after this table's) into this table.
  void merge_from(const WindowTable& later);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.size() == 0; }
  void clear() {
    entries_.clear();
    distinct_.clear();
  }

 private:
  static std::string distinct_key(std::string_view series_identity, int64_t window_start);

  WindowMap entries_;  // a flat map: see window_map.h for why not std::unordered_map
  // Only UNIQUE_COUNT entries have distinct values, so they live beside the flat map, keyed by
  // identity plus window start, rather than making every slot carry a set.
  std::unordered_map<std::string, DistinctValues> distinct_;
};

}  // namespace meterd
