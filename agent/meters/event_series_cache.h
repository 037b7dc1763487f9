// EventSeriesCache: for one commit interval, from an event's series key to the delta-table
// entry of each meter of its type, so that an event of a series already seen in the interval
// costs one key, one hash and one probe however many meters it feeds.
//
// Why: without it every meter of every event writes its own series identity (meter, subject,
// group names and values), hashes it and probes the delta table; with the bench's two meters
// per event that was 13% of the ingest thread's instructions, and the cache saves about half
// of it (6% fewer instructions an event on tests/bench/ingest_cpu). The series key is the
// event's type, subject and values at every groupBy path of the type's meters (meter_set.h,
// TypeMeters), hashed with the window start as the delta table's keys are (XXH3-128; two keys
// with one hash would share entries, the same 10^-21 bet the table makes). Equal keys mean the
// same series identity for every meter of the type, so the entries found for the first event
// serve the rest.
//
// Positions, not pointers: the table's entries move as it grows. The cache is emptied whenever
// the delta table is handed to the store, and sized like the last interval then, so an idle
// agent gives its memory back. It holds at most kMaxKeys keys: 3 MiB of slots (48–96 bytes a
// key, slots being a power of two at most half full) plus 4 bytes a key for each meter of its
// type. Beyond that an interval's further series take the full lookup, so a burst of a million
// series costs a few MiB here, not a hundred. Not thread-safe: the ingest thread's.
#pragma once

#include <cstdint>
#include <vector>

#include "buffer/windows/window_map.h"

namespace meterd {

class EventSeriesCache {
 public:
  static constexpr uint32_t kUnknown = UINT32_MAX;  // no entry found for this meter yet
  static constexpr size_t kMaxKeys = size_t{1} << 16;

  // The delta-table positions of the `meter_count` meters of the series `key`, one per meter in
  // TypeMeters order; all kUnknown for a key new in the interval. The caller fills in what it
  // finds. Valid until the next call or clear(). Null when the key is new and the cache full.
  uint32_t* positions(WindowMap::Hash key, size_t meter_count);

  // Forgets every key (the delta table they point into was handed over).
  void clear();

  size_t size() const { return size_; }

 private:
  struct Slot {
    WindowMap::Hash key;
    uint32_t first = 0;  // where its positions start in positions_
    uint32_t used = 0;   // 0: a free slot
  };
  void grow(size_t slots);

  std::vector<Slot> slots_;  // open addressing, a power of two in size, at most half full
  std::vector<uint32_t> positions_;
  size_t size_ = 0;
};

}  // namespace meterd
