// The per-interval series-key cache (see event_series_cache.h).
#include "agent/meters/event_series_cache.h"

#include <algorithm>

namespace meterd {
namespace {

constexpr size_t kMinSlots = 64;

}  // namespace

uint32_t* EventSeriesCache::positions(WindowMap::Hash key, size_t meter_count) {
  if ((size_ + 1) * 2 > slots_.size() && size_ < kMaxKeys) {
    grow(std::max(kMinSlots, slots_.size() * 2));
  }
  size_t mask = slots_.size() - 1;
  for (size_t i = key.low & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.used == 0) {
      if (size_ >= kMaxKeys) return nullptr;  // full: the slots stay at most half used
      auto first = static_cast<uint32_t>(positions_.size());
      positions_.resize(positions_.size() + meter_count, kUnknown);  // may throw: before the slot
      slot.key = key;
      slot.first = first;
      slot.used = 1;
      ++size_;
      return positions_.data() + first;
    }
    if (slot.key.low == key.low && slot.key.high == key.high) return positions_.data() + slot.first;
  }
}

void EventSeriesCache::clear() {
  // Sized for an interval like the one that ended: as large as it needed, never much larger.
  size_t slots = kMinSlots;
  while (size_ * 2 > slots) slots *= 2;
  size_t positions = positions_.size();
  size_ = 0;
  if (slots == slots_.size()) {
    std::fill(slots_.begin(), slots_.end(), Slot{});
  } else {
    std::vector<Slot>(slots).swap(slots_);
  }
  if (positions_.capacity() > 2 * positions + kMinSlots) {
    std::vector<uint32_t>().swap(positions_);
    positions_.reserve(positions);
  } else {
    positions_.clear();
  }
}

void EventSeriesCache::grow(size_t slots) {
  std::vector<Slot> old(slots);
  old.swap(slots_);
  size_t mask = slots - 1;
  for (const Slot& slot : old) {
    if (slot.used == 0) continue;
    size_t i = slot.key.low & mask;
    while (slots_[i].used != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

}  // namespace meterd
