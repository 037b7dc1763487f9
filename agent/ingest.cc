// The ingest pipeline (see ingest.h). Window assignment: tumbling windows aligned to the UTC
// epoch, by event time; events older than max_lateness or further than max_future ahead of the
// agent's clock are refused, since they would reopen windows long since billed or park usage in
// windows that will not close for a long time.
#include "agent/ingest.h"

#include <fmt/format.h>

namespace meterd {
namespace {

constexpr size_t kMaxDeadLetterBytes = 64 * 1024;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Ingest::Ingest(const Config& config, const MeterSet& meters)
    : windows_(config.windows),
      meters_(meters),
      limiter_(config.windows.size_s, config.windows.grace_ms) {}

void Ingest::accept(std::string_view payload, bool padded, std::string_view listener,
                    int64_t received_ms) {
  listener_ = listener;
  received_ms_ = received_ms;
  decoder_.decode(payload, padded, received_ms, *this);
}

CommitBatch Ingest::take_batch() {
  CommitBatch taken;
  std::swap(taken, batch_);
  return taken;
}

void Ingest::on_event(const CloudEvent& event) {
  const auto& meters = meters_.for_type(event.type);
  if (meters.empty()) {
    ++counters_.events_unmatched;
    return;
  }
  if (event.time_ms < received_ms_ - windows_.max_lateness_ms) {
    return reject("time: older than max_lateness", simdjson::minify(event.element));
  }
  if (event.time_ms > received_ms_ + windows_.max_future_ms) {
    return reject("time: further ahead than max_future", simdjson::minify(event.element));
  }
  int64_t window_start =
      floor_div(event.time_ms, windows_.size_s * 1000) * windows_.size_s;
  bool counted = false;
  for (const Meter* meter : meters) counted |= add_to_meter(*meter, event, window_start);
  if (counted) ++counters_.events_accepted;
}

bool Ingest::add_to_meter(const Meter& meter, const CloudEvent& event, int64_t window_start) {
  double value = 0;
  bool valid = meter.counts_distinct()
                   ? meter.distinct_value(event, &distinct_scratch_, &reason_scratch_)
                   : meter.value(event, &value, &reason_scratch_);
  if (!valid) {
    reject(fmt::format("meter {}: {}", meter.slug(), reason_scratch_),
           simdjson::minify(event.element));
    return false;
  }
  meter.identity(event, &identity_scratch_);
  int64_t limit = meter.cardinality_limit() > 0 ? meter.cardinality_limit()
                                                : windows_.max_series_per_meter;
  if (!limiter_.admit(identity_scratch_, window_start, limit, received_ms_)) {
    ++counters_.events_over_cardinality;
    reject(fmt::format("meter {}: cardinality_limit: window {} already holds {} series",
                       meter.slug(), window_start, limit),
           simdjson::minify(event.element));
    return false;
  }
  if (meter.counts_distinct()) {
    batch_.deltas.add_distinct(identity_scratch_, window_start, distinct_scratch_, event.time_ms);
  } else {
    batch_.deltas.add(identity_scratch_, window_start, value, event.time_ms);
  }
  return true;
}

void Ingest::on_invalid(size_t index, std::string_view field, std::string_view reason,
                        std::string_view raw) {
  reject(field.empty() ? fmt::format("event {}: {}", index, reason)
                       : fmt::format("event {}: {}: {}", index, field, reason),
         raw);
}

void Ingest::reject(std::string reason, std::string_view raw) {
  ++counters_.events_rejected;
  batch_.dead_letters.push_back(DeadLetter{received_ms_, std::string(listener_), std::move(reason),
                                           std::string(raw.substr(0, kMaxDeadLetterBytes))});
}

}  // namespace meterd
