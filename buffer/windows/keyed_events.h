// KeyedEvents: the contributions of events from acknowledged transports (Unix stream, HTTP),
// kept per event with the event's dedup key, so the store can admit each (source, id, time) at
// most once within the dedup window, in the same transaction that records it as seen.
//
// A client that retries after a lost acknowledgement resends the same events; the store drops
// every event whose key it has already recorded. Not thread-safe: one owner at a time (the
// ingest thread fills it, the store thread reads it after the hand-over).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/windows/window_table.h"

namespace meterd {

// The event's time (8 bytes, big-endian, sign bit flipped so negative times sort first) and then
// XXH3-128 of the length-prefixed source and id (series_identity.h's field encoding).
//
// Why the time first: the store keeps keys in a B-tree ordered by key. Hash-first keys sent each
// event's insert to a random page, so every commit rewrote one page per event (77% of the Unix
// stream's CPU); time-first keys of one commit land on the few pages at the tree's end. So an
// event is identified by (source, id, time): a resend carries its time unchanged and is dropped;
// an event without a `time` uses 0 there, and is matched by (source, id) alone.
using DedupKey = std::array<unsigned char, 24>;
using DedupTimePrefix = std::array<unsigned char, 8>;

DedupKey dedup_key(std::string_view source, std::string_view id, int64_t event_time_ms);
// The first 8 bytes of every key of events at `event_time_ms` (the store's expiry bound).
DedupTimePrefix dedup_time_prefix(int64_t event_time_ms);
// The event time a key (or its prefix) starts with: dedup_time_prefix read back. 0 for fewer
// than 8 bytes.
int64_t dedup_key_time_ms(std::string_view key);

class KeyedEvents {
 public:
  // `event_time_ms`: the event's own `time`, or 0 when it had none (see DedupKey).
  void begin_event(std::string_view source, std::string_view id, int64_t event_time_ms);
  // `distinct_value`: the event's value for a UNIQUE_COUNT meter, null for other meters.
  void add(std::string_view series_identity, int64_t window_start, double value, int64_t time_ms,
           const std::string_view* distinct_value = nullptr);
  // Closes the event begun last; an event without contributions is dropped.
  void end_event();

  // Adds the contributions of every event that `admit` accepts to `into`, in arrival order.
  // `admit` may fail (returns false with `*failed` set), which stops the walk.
  void merge_admitted(const std::function<bool(const DedupKey&, bool* failed)>& admit,
                      WindowTable* into, bool* failed) const;

  void append(const KeyedEvents& later);
  size_t events() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

 private:
  struct Contribution {
    uint32_t identity_offset;
    uint32_t identity_size;
    int64_t window_start;
    double value;
    int64_t time_ms;
    uint32_t distinct_offset;
    uint32_t distinct_size;
    bool has_distinct;
  };
  std::vector<DedupKey> keys_;
  std::vector<uint32_t> ends_;  // ends_[i]: one past event i's last contribution
  std::vector<Contribution> contributions_;
  std::string identities_;
  std::string distincts_;  // the distinct values of UNIQUE_COUNT contributions
  size_t open_event_start_ = 0;
  DedupKey open_key_{};
};

}  // namespace meterd
