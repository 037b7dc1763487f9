// The store's flat series-id cache (see series_id_cache.h).
#include "buffer/identity/series_id_cache.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace meterd {
namespace {

constexpr size_t kInitialSlots = 1024;

}  // namespace

int64_t SeriesIdCache::find(std::string_view identity) const {
  if (slots_.empty()) return 0;
  XXH128_hash_t hash = XXH3_128bits(identity.data(), identity.size());
  size_t mask = slots_.size() - 1;
  for (size_t i = hash.low64 & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id == 0) return 0;
    if (slot.low == hash.low64 && slot.high == hash.high64) return slot.id;
  }
}

void SeriesIdCache::insert(std::string_view identity, int64_t id) {
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();
  XXH128_hash_t hash = XXH3_128bits(identity.data(), identity.size());
  size_t mask = slots_.size() - 1;
  for (size_t i = hash.low64 & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id == 0) {
      slot = Slot{hash.low64, hash.high64, id};
      ++size_;
      return;
    }
    if (slot.low == hash.low64 && slot.high == hash.high64) {
      slot.id = id;
      return;
    }
  }
}

void SeriesIdCache::grow() {
  std::vector<Slot> old(slots_.empty() ? kInitialSlots : slots_.size() * 2);
  old.swap(slots_);
  size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.id == 0) continue;
    size_t i = slot.low & mask;
    while (slots_[i].id != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void SeriesIdCache::clear() {
  std::vector<Slot>().swap(slots_);
  size_ = 0;
}

}  // namespace meterd
