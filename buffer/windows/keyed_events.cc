// Per-event contributions with dedup keys (see keyed_events.h). Identities are stored in one
// string arena so an event costs no allocation of its own.
#include "buffer/windows/keyed_events.h"

#include <xxhash.h>

#include <cstring>

#include "buffer/identity/series_identity.h"

namespace meterd {

DedupTimePrefix dedup_time_prefix(int64_t event_time_ms) {
  uint64_t ordered = static_cast<uint64_t>(event_time_ms) ^ (uint64_t{1} << 63);
  DedupTimePrefix prefix;
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(ordered >> (56 - 8 * i));
  return prefix;
}

int64_t dedup_key_time_ms(std::string_view key) {
  if (key.size() < 8) return 0;
  uint64_t ordered = 0;
  for (int i = 0; i < 8; ++i) ordered = ordered << 8 | static_cast<unsigned char>(key[i]);
  return static_cast<int64_t>(ordered ^ (uint64_t{1} << 63));
}

DedupKey dedup_key(std::string_view source, std::string_view id, int64_t event_time_ms) {
  // Kept between calls: one key per acknowledged event, and the encoding should not cost an
  // allocation each time. (Called from the ingest thread, and from tests.)
  thread_local std::string input;
  input.clear();
  append_field(&input, source);
  append_field(&input, id);
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(input.data(), input.size()));
  DedupKey key;
  DedupTimePrefix prefix = dedup_time_prefix(event_time_ms);
  std::memcpy(key.data(), prefix.data(), prefix.size());
  std::memcpy(key.data() + prefix.size(), canonical.digest, sizeof(canonical.digest));
  return key;
}

void KeyedEvents::begin_event(std::string_view source, std::string_view id,
                              int64_t event_time_ms) {
  open_key_ = dedup_key(source, id, event_time_ms);
  open_event_start_ = contributions_.size();
}

void KeyedEvents::add(std::string_view series_identity, int64_t window_start, double value,
                      int64_t time_ms, const std::string_view* distinct_value) {
  std::string_view distinct = distinct_value ? *distinct_value : std::string_view();
  contributions_.push_back({static_cast<uint32_t>(identities_.size()),
                            static_cast<uint32_t>(series_identity.size()), window_start, value,
                            time_ms, static_cast<uint32_t>(distincts_.size()),
                            static_cast<uint32_t>(distinct.size()), distinct_value != nullptr});
  identities_.append(series_identity);
  distincts_.append(distinct);
}

void KeyedEvents::end_event() {
  if (contributions_.size() == open_event_start_) return;
  keys_.push_back(open_key_);
  ends_.push_back(static_cast<uint32_t>(contributions_.size()));
}

void KeyedEvents::merge_admitted(
    const std::function<bool(const DedupKey&, bool* failed)>& admit, WindowTable* into,
    bool* failed) const {
  uint32_t begin = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    uint32_t end = ends_[i];
    bool admitted = admit(keys_[i], failed);
    if (*failed) return;
    for (uint32_t c = begin; admitted && c < end; ++c) {
      const Contribution& part = contributions_[c];
      auto identity = std::string_view(identities_).substr(part.identity_offset, part.identity_size);
      if (part.has_distinct) {
        into->add_distinct(identity, part.window_start,
                           std::string_view(distincts_).substr(part.distinct_offset,
                                                               part.distinct_size),
                           part.time_ms);
      } else {
        into->add(identity, part.window_start, part.value, part.time_ms);
      }
    }
    begin = end;
  }
}

void KeyedEvents::append(const KeyedEvents& later) {
  auto identity_base = static_cast<uint32_t>(identities_.size());
  auto distinct_base = static_cast<uint32_t>(distincts_.size());
  auto contribution_base = static_cast<uint32_t>(contributions_.size());
  identities_.append(later.identities_);
  distincts_.append(later.distincts_);
  for (Contribution part : later.contributions_) {
    part.identity_offset += identity_base;
    part.distinct_offset += distinct_base;
    contributions_.push_back(part);
  }
  keys_.insert(keys_.end(), later.keys_.begin(), later.keys_.end());
  for (uint32_t end : later.ends_) ends_.push_back(end + contribution_base);
}

}  // namespace meterd
