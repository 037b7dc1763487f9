// The flat delta-table map (see window_map.h).
#include "buffer/windows/window_map.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

namespace meterd {
namespace {

constexpr size_t kInitialSlots = 64;

// Grows `v` ahead of a push_back, so that the push_back itself cannot throw.
template <typename T>
void make_room(std::vector<T>& v) {
  if (v.size() == v.capacity()) v.reserve(std::max<size_t>(kInitialSlots, 2 * v.capacity()));
}

}  // namespace

WindowMap::Hash WindowMap::hash_of(std::string_view identity, int64_t window_start) {
  XXH128_hash_t hash = XXH3_128bits_withSeed(identity.data(), identity.size(),
                                             static_cast<uint64_t>(window_start));
  return Hash{hash.low64, hash.high64};
}

uint64_t& WindowMap::slot_for(Hash hash) {
  size_t mask = index_.size() - 1;
  uint64_t tag = hash.low >> 32;
  for (size_t i = hash.low & mask;; i = (i + 1) & mask) {
    uint64_t& slot = index_[i];
    if (slot == 0) return slot;
    if ((slot >> 32) == tag) {
      const Entry& e = entries_[(slot & 0xffffffff) - 1];
      if (e.hash.low == hash.low && e.hash.high == hash.high) return slot;
    }
  }
}

size_t WindowMap::place(Hash hash, std::string_view identity, int64_t window_start) {
  if ((entries_.size() + 1) * 2 > index_.size()) {
    grow_index(std::max(kInitialSlots, index_.size() * 2));
  }
  uint64_t& slot = slot_for(hash);
  if (slot != 0) return (slot & 0xffffffff) - 1;
  // Everything that can throw (allocation) before anything changes that must stay in step:
  // entries_[n] and keys_[n] describe one entry.
  auto offset = static_cast<uint32_t>(arena_.size());
  arena_.append(identity);
  make_room(entries_);
  make_room(keys_);
  entries_.push_back(Entry{hash, Accumulator{}});
  keys_.push_back(Key{window_start, offset, static_cast<uint32_t>(identity.size())});
  slot = (hash.low >> 32) << 32 | entries_.size();
  return entries_.size() - 1;
}

size_t WindowMap::position_of(Hash hash) {
  if (entries_.empty()) return kAbsent;
  uint64_t slot = slot_for(hash);
  return slot == 0 ? kAbsent : (slot & 0xffffffff) - 1;
}

void WindowMap::reserve(size_t entries, size_t identity_bytes) {
  entries_.reserve(entries);
  keys_.reserve(entries);
  arena_.reserve(identity_bytes);
  size_t slots = std::max(kInitialSlots, index_.size());
  while (entries * 2 > slots) slots *= 2;
  if (slots > index_.size()) grow_index(slots);
}

void WindowMap::grow_index(size_t slots) {
  index_.assign(slots, 0);
  size_t mask = slots - 1;
  for (size_t n = 0; n < entries_.size(); ++n) {
    size_t i = entries_[n].hash.low & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = (entries_[n].hash.low >> 32) << 32 | (n + 1);
  }
}

void WindowMap::clear() {
  index_.clear();
  entries_.clear();
  keys_.clear();
  arena_.clear();
}

}  // namespace meterd
