// Ingest: the per-event pipeline of the ingest thread: decode → match meters → assign a window →
// accumulate; rejected events become dead letters.
//
// An event is atomic across its meters: every meter of its type takes it, or none does. When
// any meter refuses it (its value, its identity's size, the cardinality bound, a sum that would
// leave the finite range) the event is one dead letter (one invalid event for the transport)
// whose reason lists every refusing meter's, and nothing of it is kept: no contribution, no
// series counted by the bound, no dedup key, so the client's fixed resend under the same id
// counts in full. Hence two phases per event: every meter checks the event and finds where it
// goes without changing anything, then, if all agreed, every meter adds it.
//
// No window's sum may become ±inf or NaN (no record or SQLite row could carry it): an event
// whose value would take its delta-table entry's sum out of the finite range is refused; an
// acknowledged event, summed only by the store after duplicates are dropped, when its value
// would take the batch's positive or negative values of the series and window there
// (KeyedSums). The store bounds what it merges into its rows itself.
//
// Every transport hands its payloads to the one PayloadSink. Fire-and-forget payloads (UDP, Unix
// datagrams) accumulate straight into the delta table. Acknowledged payloads (Unix stream, HTTP)
// keep their contributions per event with a (source, id, time) key, so the store admits each event
// once within the dedup window, and report each invalid event back to the transport. Each
// payload is stamped with the generation of the batch it went into: it is durable once the
// commit of that generation succeeded.
//
// Threading: the ingest thread (the io_context's) only. take_batch() is called there too, by the
// hand-over timer once a commit interval (handoff_timer.h), so the hot path needs no lock.
// Its counters (event_counts.h) are plain: the hand-over timer publishes a copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/decode/cloudevent_decoder.h"
#include "agent/ingest/event_counts.h"
#include "agent/ingest/payload_sink.h"
#include "agent/config/config.h"
#include "agent/meters/event_series_cache.h"
#include "agent/meters/meter_set.h"
#include "agent/meters/series_limiter.h"
#include "buffer/store/store.h"

namespace meterd {

class Ingest : public PayloadSink, private EventSink {
 public:
  Ingest(const Config& config, const MeterSet& meters);

  void accept(const Payload& payload, AcceptResult* result) override;
  void reject_payload(const Payload& payload, std::string reason) override;

  // Hands over everything accumulated since the last call and starts the next generation.
  CommitBatch take_batch();

  const IngestCounters& counters() const { return counters_; }
  // Series keys the series-key cache holds this interval (event_series_cache.h).
  size_t cached_series_keys() const { return series_cache_.size(); }

  // Before the listeners start: counts a series the buffer already holds an open window of, so
  // the cardinality bound survives a restart.
  void seed_series(std::string_view series_identity, int64_t window_start, int64_t now_ms) {
    limiter_.seed(series_identity, window_start, now_ms);
  }

 private:
  // Where one meter puts the event: what phase 1 (check_meter) found, for phase 2 (add_to_meter).
  struct MeterStep {
    enum class Route : uint8_t {
      kCached,    // add to the entry at `position`, which the series-key cache knew
      kEntry,     // add to the delta-table entry at `position`, found by the identity
      kNewEntry,  // count the series, make its entry at `hash`, add there
      kDistinct,  // count the series, add with `distinct` (UNIQUE_COUNT, datagrams)
      kKeyed,     // count the series, keep with the event's dedup key (acknowledged)
    };
    Route route = Route::kCached;
    double value = 0;
    uint32_t position = 0;
    WindowMap::Hash hash;
    SeriesLimiter::Admission admission;
    uint64_t sum_key = 0;  // kKeyed: its KeyedSums entry (0: a unit value, none needed)
    SeriesIdentityWriter identity;  // unless kCached
    std::string distinct;           // the UNIQUE_COUNT value
  };

  // The values of the batch's acknowledged events per (series, window), positive and negative
  // apart. The store drops some of those events as duplicates, and a running sum bounds only
  // the whole: +a, -a, +a sum to a, but without the middle one to 2a. Each side bounded, every
  // subset's sum lies between them. The key is the identity's 64-bit hash mixed with the window
  // start; two series sharing one (1 in 2^64) share a bound, which only refuses earlier.
  class KeyedSums {
   public:
    // Whether `value` keeps its side of `key`'s entry finite.
    bool fits(uint64_t key, double value) const;
    void add(uint64_t key, double value);
    // Forgets every entry (the batch was handed over); sized like the last batch.
    void clear();

   private:
    struct Slot {
      uint64_t key = 0;  // 0: free
      double positive = 0;
      double negative = 0;
    };
    static constexpr size_t kMinSlots = 64;
    const Slot* find(uint64_t key) const;
    Slot& slot_for(uint64_t key);  // the key's slot, or the free one where it belongs
    void grow();
    std::vector<Slot> slots_;  // open addressing, a power of two in size, at most half full
    size_t size_ = 0;
  };

  void on_event(const CloudEvent& event) override;
  void on_invalid(size_t index, std::string_view field, std::string_view reason,
                  std::string_view raw) override;
  void reject(size_t index, std::string_view field, std::string reason, std::string_view raw,
              RejectReason code);
  void decode(std::string_view bytes, bool padded);
  // The event's series key for the meters of its type (event_series_cache.h).
  WindowMap::Hash series_key(const CloudEvent& event, const TypeMeters& type, int64_t window_start);
  // Phase 1 for one meter: whether it takes the event, and where, into `step`; adds nothing and
  // counts no series, but appends the meter's reason to refusals_ when it refuses. `position`:
  // the meter's entry in the delta table as the series-key cache knows it, or null where the
  // cache does not apply. check_series is its part for a series the cache did not know: apart,
  // so that the common case stays a short function without the rest's register saves.
  bool check_meter(const Meter& meter, const CloudEvent& event, int64_t window_start,
                   const uint32_t* position, MeterStep* step);
  [[gnu::noinline]] bool check_series(const Meter& meter, const CloudEvent& event,
                                      int64_t window_start, MeterStep* step);
  // Phase 2: adds the event where `step` says; fills in `position` (as above) once known.
  // add_to_series: every route but kCached, apart for the same reason.
  void add_to_meter(const Meter& meter, const CloudEvent& event, int64_t window_start,
                    MeterStep& step, uint32_t* position);
  [[gnu::noinline]] void add_to_series(const Meter& meter, const CloudEvent& event,
                                       int64_t window_start, MeterStep& step, uint32_t* position);
  // Whether adding `value` keeps the entry's sum finite (else the meter's refusal).
  bool sum_stays_finite(const Meter& meter, double sum, double value);
  // Appends the meter's reason to refusals_ (the first refusal's class to refusal_code_); false,
  // for check_meter to return.
  bool refuse(const Meter& meter, std::string_view reason, RejectReason code);

  const Config::Windows windows_;
  const MeterSet& meters_;
  CloudEventDecoder decoder_;
  CommitBatch batch_;
  SeriesLimiter limiter_;
  IngestCounters counters_;

  // Context of the payload being accepted.
  const Payload* payload_ = nullptr;
  AcceptResult* result_ = nullptr;
  size_t event_index_ = 0;
  size_t transport_ = 0;  // the payload's Transport, as an index
  std::string last_type_;
  const TypeMeters* last_type_meters_ = nullptr;
  EventSeriesCache series_cache_;
  SeriesIdentityWriter series_key_writer_;
  std::vector<MeterStep> steps_;  // one per meter of the event's type, reused
  KeyedSums keyed_sums_;
  std::string group_scratch_;
  std::string reason_scratch_;
  std::string refusals_;  // the event's refusing meters and their reasons; empty between events
  RejectReason refusal_code_ = RejectReason::kValue;
  std::string transcoded_;
};

}  // namespace meterd
