// Ingest: the per-event pipeline of the ingest thread: decode → match meters → assign a window →
// accumulate into the delta table; rejected events become dead letters.
//
// Threading: owned by the ingest thread (the io_context's). accept() is called by the listeners;
// take_batch() is called on the same thread (the commit loop posts it there), so the hot path
// needs no lock. Counters are atomics so other threads may read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/cloudevent_decoder.h"
#include "agent/config.h"
#include "agent/meter_set.h"
#include "agent/series_limiter.h"
#include "buffer/store.h"

namespace meterd {

struct IngestCounters {
  std::atomic<int64_t> events_accepted{0};   // matched at least one meter
  std::atomic<int64_t> events_unmatched{0};  // valid, but no meter has their type
  std::atomic<int64_t> events_rejected{0};   // became dead letters
  // Of the dead letters: refused by a meter's series limit (one per refusing meter).
  std::atomic<int64_t> events_over_cardinality{0};
};

// The seam every transport feeds: one received payload (datagram, body, line).
class PayloadSink {
 public:
  virtual ~PayloadSink() = default;
  // `padded`: simdjson::SIMDJSON_PADDING readable bytes follow the payload.
  virtual void accept(std::string_view payload, bool padded, std::string_view listener,
                      int64_t received_ms) = 0;
};

class Ingest : public PayloadSink, private EventSink {
 public:
  Ingest(const Config& config, const MeterSet& meters);

  void accept(std::string_view payload, bool padded, std::string_view listener,
              int64_t received_ms) override;

  // Hands over everything accumulated since the last call.
  CommitBatch take_batch();

  const IngestCounters& counters() const { return counters_; }

  // Before the listeners start: counts a series the buffer already holds an open window of, so
  // the cardinality bound survives a restart.
  void seed_series(std::string_view series_identity, int64_t window_start, int64_t now_ms) {
    limiter_.seed(series_identity, window_start, now_ms);
  }

 private:
  void on_event(const CloudEvent& event) override;
  void on_invalid(size_t index, std::string_view field, std::string_view reason,
                  std::string_view raw) override;
  void reject(std::string reason, std::string_view raw);
  // Accumulates `event` for one meter; false (and a dead letter) when the meter refuses it.
  bool add_to_meter(const Meter& meter, const CloudEvent& event, int64_t window_start);

  const Config::Windows windows_;
  const MeterSet& meters_;
  CloudEventDecoder decoder_;
  CommitBatch batch_;
  SeriesLimiter limiter_;
  IngestCounters counters_;

  // Context of the payload being accepted.
  std::string_view listener_;
  int64_t received_ms_ = 0;
  std::string identity_scratch_;
  std::string reason_scratch_;
  std::string distinct_scratch_;
};

}  // namespace meterd
