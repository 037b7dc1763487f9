// SeriesHashSet: a set of 64-bit series hashes, for the cardinality bound (series_limiter.h).
//
// The bound keeps one set per meter and window with every series seen there, so its size per
// series counts in the agent's memory per series: std::unordered_set<uint64_t> costs ~40 bytes
// an element (a node, allocator overhead, a bucket); this flat open-addressing table costs 8
// bytes a slot at most three quarters full (11–21 bytes an element). Hash 0 marks a free slot,
// so a real 0 is stored as 1: the bound may count two series as one once in 2^63, which makes
// it off by one, never the data wrong. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace meterd {

class SeriesHashSet {
 public:
  bool contains(uint64_t hash) const {
    if (slots_.empty()) return false;
    hash = stored(hash);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i] == hash) return true;
      if (slots_[i] == 0) return false;
    }
  }

  void insert(uint64_t hash) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    hash = stored(hash);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i] == hash) return;
      if (slots_[i] == 0) {
        slots_[i] = hash;
        ++size_;
        return;
      }
    }
  }

  size_t size() const { return size_; }

 private:
  static uint64_t stored(uint64_t hash) { return hash == 0 ? 1 : hash; }

  void grow() {
    std::vector<uint64_t> old(slots_.empty() ? 16 : slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (uint64_t hash : old) {
      if (hash != 0) insert(hash);
    }
  }

  std::vector<uint64_t> slots_;  // a power of two in size
  size_t size_ = 0;
};

}  // namespace meterd
