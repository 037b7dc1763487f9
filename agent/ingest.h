// Ingest: the per-event pipeline of the ingest thread: decode → match meters → assign a window →
// accumulate; rejected events become dead letters.
//
// Every transport hands its payloads to the one PayloadSink. Fire-and-forget payloads (UDP, Unix
// datagrams) accumulate straight into the delta table. Acknowledged payloads (Unix stream, HTTP)
// keep their contributions per event with a (source, id, time) key, so the store admits each event
// once within the dedup window, and report each invalid event back to the transport. Each
// payload is stamped with the generation of the batch it went into: it is durable once the
// commit of that generation succeeded.
//
// Threading: the ingest thread (the io_context's) only. take_batch() is called there too (the
// commit loop posts it), so the hot path needs no lock. Counters are atomics other threads read.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cloudevent_decoder.h"
#include "agent/config.h"
#include "agent/event_series_cache.h"
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

struct Payload {
  std::string_view bytes;
  bool padded = false;  // simdjson::SIMDJSON_PADDING readable bytes follow `bytes`
  std::string_view listener;
  int64_t received_ms = 0;
  bool acknowledged = false;  // deduplicate by (source, id, time); report invalid events
};

struct EventError {
  size_t index = 0;  // position of the event in its payload
  std::string field;
  std::string reason;
};

struct AcceptResult {
  size_t events = 0;  // events seen, valid or not
  std::vector<EventError> errors;
  uint64_t generation = 0;  // durable once this generation is committed
};

// The seam every transport feeds.
class PayloadSink {
 public:
  virtual ~PayloadSink() = default;
  // `result` may be null when the transport reports nothing back.
  virtual void accept(const Payload& payload, AcceptResult* result) = 0;
  // Records a payload that cannot be read at all (too large, say) as one dead letter.
  virtual void reject_payload(const Payload& payload, std::string reason) = 0;
};

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
  void on_event(const CloudEvent& event) override;
  void on_invalid(size_t index, std::string_view field, std::string_view reason,
                  std::string_view raw) override;
  void reject(size_t index, std::string_view field, std::string reason, std::string_view raw);
  void decode(std::string_view bytes, bool padded);
  // The event's series key for the meters of its type (event_series_cache.h).
  WindowMap::Hash series_key(const CloudEvent& event, const TypeMeters& type, int64_t window_start);
  // Accumulates event number `index` for one meter; false (and a dead letter) when the meter
  // refuses it. `position`: the meter's entry in the delta table as the series-key cache knows
  // it (read, and filled in when found), or null where the cache does not apply.
  bool add_to_meter(const Meter& meter, const CloudEvent& event, size_t index,
                    int64_t window_start, uint32_t* position);

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
  std::string last_type_;
  const TypeMeters* last_type_meters_ = nullptr;
  EventSeriesCache series_cache_;
  SeriesIdentityWriter series_key_writer_;
  SeriesIdentityWriter identity_;
  std::string group_scratch_;
  std::string reason_scratch_;
  std::string transcoded_;
  std::string distinct_scratch_;
};

}  // namespace meterd
