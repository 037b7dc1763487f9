// The flat delta-table map (see window_map.h).
#include "buffer/window_map.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <utility>

namespace meterd {
namespace {

constexpr size_t kInitialSlots = 64;

uint64_t hash_of(std::string_view identity, int64_t window_start) {
  return XXH3_64bits_withSeed(identity.data(), identity.size(),
                              static_cast<uint64_t>(window_start));
}

}  // namespace

WindowMap::Entry& WindowMap::slot_for(std::string_view identity, int64_t window_start,
                                      uint64_t hash) {
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Entry& e = slots_[i];
    if (!e.used) return e;
    if (e.hash == hash && e.window_start == window_start && key_of(e) == identity) return e;
  }
}

Accumulator& WindowMap::at(std::string_view identity, int64_t window_start) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  uint64_t hash = hash_of(identity, window_start);
  Entry& e = slot_for(identity, window_start, hash);
  if (!e.used) {
    e.used = true;
    e.hash = hash;
    e.window_start = window_start;
    e.key_offset = static_cast<uint32_t>(arena_.size());
    e.key_size = static_cast<uint32_t>(identity.size());
    arena_.append(identity);
    ++size_;
  }
  return e.accumulator;
}

Accumulator* WindowMap::find(std::string_view identity, int64_t window_start) {
  if (size_ == 0) return nullptr;
  Entry& e = slot_for(identity, window_start, hash_of(identity, window_start));
  return e.used ? &e.accumulator : nullptr;
}

void WindowMap::reserve(size_t entries, size_t identity_bytes) {
  arena_.reserve(identity_bytes);
  while (entries * 2 > slots_.size()) grow();
}

void WindowMap::grow() {
  std::vector<Entry> old(std::max(kInitialSlots, slots_.size() * 2));
  old.swap(slots_);
  size_t mask = slots_.size() - 1;
  for (Entry& e : old) {
    if (!e.used) continue;
    size_t i = e.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = std::move(e);  // cheap today; an accumulator may one day own memory
  }
}

void WindowMap::clear() {
  slots_.clear();
  arena_.clear();
  size_ = 0;
}

}  // namespace meterd
