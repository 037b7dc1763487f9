// WindowMap: the delta table's container, a flat open-addressing hash map from (series identity,
// window start) to an Accumulator.
//
// Why not std::unordered_map: the ingest thread looks an entry up for every meter of every
// event, and the node map costs three dependent cache misses per lookup (bucket, node, the
// key's heap string), a division by a prime and a copy of the key into a scratch string.
// Here a lookup hashes the identity once (XXH3-128, seeded with the window start) and probes an
// index of 8-byte slots (32 bits of the hash beside the entry's position), so a probe that
// misses never touches an entry; the entries sit densely in insertion order. An entry matches
// when its 128-bit hash does (seeded with the window start, so the window is part of it): the
// identity bytes (in an append-only arena, for the store) are not compared, which spared a
// cache miss and a memcmp per lookup (17% of the ingest thread). Two identities with one
// 128-bit hash would share an entry; at 10^9 series the chance is about 10^-21, the bet the
// idempotency keys and the store's series cache make too.
//
// A lookup that hits reads one cache line of entries: the hash and the accumulator (64 bytes,
// aligned to a line); the window start and where the identity is are kept aside, since only
// the store's for_each reads them (the window start is the hash's seed, so a matching 128-bit
// hash already stands for it, with the odds above). With the window start and identity in the
// entry (80 bytes) every entry straddled two lines, and the lookup missed on both.
//
// Memory matters as much as speed: a table holds every series active in one commit interval,
// and two tables exist while the store merges one. Dense entries (64 + 16 bytes) plus an index
// at most half full (16–32 bytes an entry) cost about half of what slots holding the entries
// did.
// Entries are never erased (a table lives for one commit interval and is then cleared or
// handed over), so linear probing needs no tombstones. Not thread-safe: one owner at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/windows/accumulator.h"

namespace meterd {

class WindowMap {
 public:
  // What an entry is found by: XXH3-128 of the identity, seeded with the window start. The
  // ingest path computes it once for a position_of() and, on a miss, the place() that follows.
  struct Hash {
    uint64_t low = 0, high = 0;
  };
  static Hash hash_of(std::string_view identity, int64_t window_start);

  struct alignas(64) Entry {
    Hash hash;
    Accumulator accumulator;
  };
  static_assert(sizeof(Entry) == 64, "an entry is one cache line: see above");
  struct Key {  // entry n's window and identity: keys_[n]
    int64_t window_start = 0;
    uint32_t offset = 0;  // the series identity in arena_
    uint32_t size = 0;
  };

  static constexpr size_t kAbsent = SIZE_MAX;

  // The accumulator of (identity, window_start), created empty on first use.
  Accumulator& at(std::string_view identity, int64_t window_start) {
    return at(hash_of(identity, window_start), identity, window_start);
  }
  // The same with `hash` = hash_of(identity, window_start).
  Accumulator& at(Hash hash, std::string_view identity, int64_t window_start) {
    return entries_[place(hash, identity, window_start)].accumulator;
  }
  // The accumulator of (identity, window_start) if there is one, else null.
  Accumulator* find(std::string_view identity, int64_t window_start) {
    return find(hash_of(identity, window_start));
  }
  Accumulator* find(Hash hash) {
    size_t position = position_of(hash);
    return position == kAbsent ? nullptr : &entries_[position].accumulator;
  }

  // Entries by position, for a caller that remembers where an entry is (positions are stable
  // until clear(); pointers are not, since the entries move as the table grows).
  // The position of (hash, identity, window_start)'s entry, created empty on first use.
  size_t place(Hash hash, std::string_view identity, int64_t window_start);
  // The position of the entry with `hash`, or kAbsent.
  size_t position_of(Hash hash);
  Accumulator& accumulator_at(size_t position) { return entries_[position].accumulator; }
  // Makes room for `entries` without growing on the way (a new interval's table starts with
  // the previous one's size, so the hot path does not rehash its way up again every interval).
  void reserve(size_t entries, size_t identity_bytes);

  template <typename Visit>  // Visit(std::string_view identity, int64_t window_start, const Accumulator&)
  void for_each(Visit&& visit) const {
    for (size_t n = 0; n < entries_.size(); ++n) {
      visit(identity_of(keys_[n]), keys_[n].window_start, entries_[n].accumulator);
    }
  }

  size_t size() const { return entries_.size(); }
  size_t identity_bytes() const { return arena_.size(); }
  void clear();

 private:
  // The index slot holding (identity, window_start), or the free slot where it belongs.
  uint64_t& slot_for(Hash hash);
  std::string_view identity_of(const Key& key) const {
    return std::string_view(arena_).substr(key.offset, key.size);
  }
  void grow_index(size_t slots);

  // A slot: the hash's upper 32 bits, then the entry's position + 1 (0: free). A power of two
  // in size, at most half full.
  std::vector<uint64_t> index_;
  std::vector<Entry> entries_;
  std::vector<Key> keys_;
  std::string arena_;  // every identity once, back to back
};

}  // namespace meterd
