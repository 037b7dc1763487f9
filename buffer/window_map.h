// WindowMap: the delta table's container, a flat open-addressing hash map from (series identity,
// window start) to an Accumulator.
//
// Why not std::unordered_map: the ingest thread looks an entry up for every meter of every
// event, and the node map costs three dependent cache misses per lookup (bucket, node, the
// key's heap string), a division by a prime and a copy of the key into a scratch string.
// Here a lookup hashes the identity once (XXH3, seeded with the window start), probes slots
// that each hold the hash, the window start and the accumulator in one cache line, and compares
// key bytes in an append-only arena only on a full hash match. Entries are never erased (a
// table lives for one commit interval and is then cleared or handed over), so linear probing
// needs no tombstones. Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/accumulator.h"

namespace meterd {

class WindowMap {
 public:
  struct Entry {
    uint64_t hash = 0;
    int64_t window_start = 0;
    uint32_t key_offset = 0;  // the series identity in arena_
    uint32_t key_size = 0;
    Accumulator accumulator;
    bool used = false;
  };

  // The accumulator of (identity, window_start), created empty on first use.
  Accumulator& at(std::string_view identity, int64_t window_start);
  // The accumulator of (identity, window_start) if there is one, else null.
  Accumulator* find(std::string_view identity, int64_t window_start);
  // Makes room for `entries` without growing on the way (a new interval's table starts with
  // the previous one's size, so the hot path does not rehash its way up again every interval).
  void reserve(size_t entries, size_t identity_bytes);

  template <typename Visit>  // Visit(std::string_view identity, int64_t window_start, const Accumulator&)
  void for_each(Visit&& visit) const {
    for (const Entry& e : slots_) {
      if (e.used) visit(key_of(e), e.window_start, e.accumulator);
    }
  }

  size_t size() const { return size_; }
  size_t identity_bytes() const { return arena_.size(); }
  void clear();

 private:
  // The slot holding (identity, window_start), or the free slot where it belongs.
  Entry& slot_for(std::string_view identity, int64_t window_start, uint64_t hash);
  std::string_view key_of(const Entry& e) const {
    return std::string_view(arena_).substr(e.key_offset, e.key_size);
  }
  void grow();

  std::vector<Entry> slots_;  // a power of two in size, at most half full
  std::string arena_;         // every identity once, back to back
  size_t size_ = 0;
};

}  // namespace meterd
