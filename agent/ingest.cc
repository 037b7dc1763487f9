// The ingest pipeline (see ingest.h). Window assignment: tumbling windows aligned to the UTC
// epoch, by event time; events older than max_lateness or further than max_future ahead of the
// agent's clock are refused, since they would reopen windows long since billed or park usage in
// windows that will not close for a long time.
#include "agent/ingest.h"

#include <fmt/format.h>

#include "agent/msgpack_transcoder.h"
#include "agent/same_text.h"
#include "buffer/series_identity.h"

namespace meterd {
namespace {

constexpr size_t kMaxDeadLetterBytes = 64 * 1024;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Ingest::Ingest(const Config& config, const MeterSet& meters)
    : windows_(config.windows),
      meters_(meters),
      limiter_(config.windows.size_s, config.windows.grace_ms),
      last_type_meters_(&meters.for_type(last_type_)) {
  batch_.generation = 1;
}

void Ingest::accept(const Payload& payload, AcceptResult* result) {
  payload_ = &payload;
  result_ = result;
  event_index_ = 0;
  if (result) result->generation = batch_.generation;
  if (looks_like_msgpack(payload.bytes)) {
    std::string error;
    if (!msgpack_to_json(payload.bytes, &transcoded_, &error)) {
      reject(0, "", "msgpack: " + error, payload.bytes);
    } else {
      decode(transcoded_, false);
    }
  } else {
    decode(payload.bytes, payload.padded);
  }
  payload_ = nullptr;
  result_ = nullptr;
}

void Ingest::reject_payload(const Payload& payload, std::string reason) {
  ++counters_.events_rejected;
  batch_.dead_letters.push_back(DeadLetter{payload.received_ms, std::string(payload.listener),
                                           std::move(reason),
                                           std::string(payload.bytes.substr(0, kMaxDeadLetterBytes))});
}

void Ingest::decode(std::string_view bytes, bool padded) {
  decoder_.decode(bytes, padded, payload_->received_ms, *this);
}

CommitBatch Ingest::take_batch() {
  CommitBatch taken;
  std::swap(taken, batch_);
  batch_.generation = taken.generation + 1;
  batch_.deltas.reserve_like(taken.deltas);
  series_cache_.clear();  // its positions are into the table just handed over
  return taken;
}

void Ingest::on_event(const CloudEvent& event) {
  size_t index = event_index_++;
  if (result_) ++result_->events;
  // Events of one payload mostly share a type: remember the last lookup.
  if (!same_text(event.type, last_type_)) {
    last_type_.assign(event.type);
    last_type_meters_ = &meters_.for_type(event.type);
  }
  const TypeMeters& type = *last_type_meters_;
  const std::vector<const Meter*>& meters = type.meters;
  if (meters.empty()) {
    ++counters_.events_unmatched;
    return;
  }
  if (event.time_ms < payload_->received_ms - windows_.max_lateness_ms) {
    return reject(index, "time", "older than max_lateness", simdjson::minify(event.element));
  }
  if (event.time_ms > payload_->received_ms + windows_.max_future_ms) {
    return reject(index, "time", "further ahead than max_future", simdjson::minify(event.element));
  }
  int64_t window_start = floor_div(event.time_ms, windows_.size_s * 1000) * windows_.size_s;
  bool keyed = payload_->acknowledged;
  if (keyed) batch_.keyed.begin_event(event.source, event.id, event.has_time ? event.time_ms : 0);
  // Fire-and-forget events go to the delta table, where the series-key cache finds a known
  // series' entries (null positions: the full lookup); acknowledged ones are kept per event.
  uint32_t* positions = nullptr;
  if (!keyed && type.has_series_key) {
    positions = series_cache_.positions(series_key(event, type, window_start), meters.size());
  }
  bool counted = false;
  for (size_t i = 0; i < meters.size(); ++i) {
    counted |= add_to_meter(*meters[i], event, index, window_start,
                            positions ? &positions[i] : nullptr);
  }
  if (keyed) batch_.keyed.end_event();
  if (counted) {
    ++counters_.events_accepted;
    ++batch_.events;
  }
}

WindowMap::Hash Ingest::series_key(const CloudEvent& event, const TypeMeters& type,
                                   int64_t window_start) {
  series_key_writer_.start(type.key_prefix);
  series_key_writer_.field(event.subject);
  for (const JsonPath* path : type.group_paths) {
    series_key_writer_.field(group_value(event, *path, &group_scratch_));
  }
  return WindowMap::hash_of(series_key_writer_.view(), window_start);
}

bool Ingest::add_to_meter(const Meter& meter, const CloudEvent& event, size_t index,
                          int64_t window_start, uint32_t* position) {
  double value = 0;
  bool valid = meter.counts_distinct()
                   ? meter.distinct_value(event, &distinct_scratch_, &reason_scratch_)
                   : meter.value(event, &value, &reason_scratch_);
  if (!valid) {
    reject(index, "data", fmt::format("meter {}: {}", meter.slug(), reason_scratch_),
           simdjson::minify(event.element));
    return false;
  }
  bool use_cache = position && !meter.counts_distinct();  // distinct values need the identity
  if (use_cache && *position != EventSeriesCache::kUnknown) {
    // The common case: an earlier event of the series found or made this entry in the interval
    // (so the cardinality bound admitted it already).
    batch_.deltas.accumulator_at(*position).add(value, event.time_ms);
    return true;
  }
  meter.identity(event, &identity_, &group_scratch_);
  std::string_view identity = identity_.view();
  if (identity.size() > kMaxSeriesIdentityBytes) {
    // Checked once per series and interval: the series-key cache's entries passed here.
    reject(index, "data",
           fmt::format("meter {}: subject and group values take {} bytes encoded; at most {} bytes",
                       meter.slug(), identity.size(), kMaxSeriesIdentityBytes),
           simdjson::minify(event.element));
    return false;
  }
  bool keyed = payload_->acknowledged;
  WindowMap::Hash hash;
  if (!keyed && !meter.counts_distinct()) {
    // The series may have an entry already, made for an event with another series key (the
    // key spans every groupBy path of the type, this meter's identity only its own): then the
    // cardinality bound admitted it already.
    hash = WindowMap::hash_of(identity, window_start);
    if (size_t known = batch_.deltas.position_of(hash); known != WindowMap::kAbsent) {
      if (use_cache) *position = static_cast<uint32_t>(known);
      batch_.deltas.accumulator_at(known).add(value, event.time_ms);
      return true;
    }
  }
  int64_t limit = meter.cardinality_limit() > 0 ? meter.cardinality_limit()
                                                : windows_.max_series_per_meter;
  if (!limiter_.admit(identity, window_start, limit, payload_->received_ms)) {
    ++counters_.events_over_cardinality;
    reject(index, "data",
           fmt::format("meter {}: cardinality_limit: window {} already holds {} series",
                       meter.slug(), window_start, limit),
           simdjson::minify(event.element));
    return false;
  }
  std::string_view distinct = meter.counts_distinct() ? std::string_view(distinct_scratch_)
                                                       : std::string_view();
  if (keyed) {
    batch_.keyed.add(identity, window_start, value, event.time_ms,
                     meter.counts_distinct() ? &distinct : nullptr);
  } else if (meter.counts_distinct()) {
    batch_.deltas.add_distinct(identity, window_start, distinct, event.time_ms);
  } else {
    size_t placed = batch_.deltas.place(hash, identity, window_start);
    if (use_cache) *position = static_cast<uint32_t>(placed);
    batch_.deltas.accumulator_at(placed).add(value, event.time_ms);
  }
  return true;
}

void Ingest::on_invalid(size_t, std::string_view field, std::string_view reason,
                        std::string_view raw) {
  size_t index = event_index_++;
  if (result_) ++result_->events;
  reject(index, field, std::string(reason), raw);
}

void Ingest::reject(size_t index, std::string_view field, std::string reason,
                    std::string_view raw) {
  ++counters_.events_rejected;
  if (result_) result_->errors.push_back(EventError{index, std::string(field), reason});
  std::string full = field.empty() ? fmt::format("event {}: {}", index, reason)
                                   : fmt::format("event {}: {}: {}", index, field, reason);
  batch_.dead_letters.push_back(DeadLetter{payload_->received_ms, std::string(payload_->listener),
                                           std::move(full),
                                           std::string(raw.substr(0, kMaxDeadLetterBytes))});
}

}  // namespace meterd
