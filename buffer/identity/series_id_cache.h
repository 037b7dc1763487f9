// SeriesIdCache: the store's memory of which `series` row each series identity has, so merging
// a commit's deltas asks SQLite only about series it has never seen.
//
// It must hold every active series, so its size per series is most of the agent's memory per
// series. A std::unordered_map<std::string, int64_t> cost ~140 bytes a series (a node, the
// identity's heap copy, a bucket). Here a slot is 24 bytes: the identity's XXH3-128 and the id,
// in one flat open-addressing array kept at most three quarters full, with no copy of the
// identity at all. Two identities with the same 128-bit hash would share a row; at 10^9 series
// the chance is about 10^-21, the same bet the idempotency keys already make.
// Not thread-safe: the store thread's.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace meterd {

class SeriesIdCache {
 public:
  // The cached id of `identity`, or 0 (series ids start at 1).
  int64_t find(std::string_view identity) const;
  void insert(std::string_view identity, int64_t id);
  void clear();
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t low = 0;
    uint64_t high = 0;
    int64_t id = 0;  // 0: the slot is free
  };
  void grow();

  std::vector<Slot> slots_;  // a power of two in size
  size_t size_ = 0;
};

}  // namespace meterd
