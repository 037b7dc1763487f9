// The ingest pipeline (see ingest.h). Window assignment: tumbling windows aligned to the UTC
// epoch, by event time; events older than max_lateness or further than max_future ahead of the
// agent's clock are refused, since they would reopen windows long since billed or park usage in
// windows that will not close for a long time.
//
// The two phases keep the common event cheap: a series already in the interval's delta table
// costs phase 1 its value and one addition against the entry it will add to (the finiteness
// check), and phase 2 the add; the steps live in a member reused by every event, so neither
// allocates.
#include "agent/ingest/ingest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include <simdjson.h>

#include "agent/decode/msgpack_transcoder.h"
#include "buffer/base/same_text.h"
#include "buffer/identity/series_identity.h"

namespace meterd {
namespace {

static_assert(kPayloadPadding >= simdjson::SIMDJSON_PADDING,
              "transports pad payloads for simdjson to parse in place");

constexpr size_t kMaxDeadLetterBytes = 64 * 1024;
constexpr std::string_view kNonFiniteSum =
    "value would make the window's sum non-finite (beyond ±1.8e308)";

// A KeyedSums key: the series' hash (the cardinality bound's) and the window start; never 0.
uint64_t keyed_sum_key(uint64_t identity_hash, int64_t window_start) {
  uint64_t key = identity_hash ^ (static_cast<uint64_t>(window_start) * 0x9E3779B97F4A7C15u);
  return key == 0 ? 1 : key;
}

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
  transport_ = static_cast<size_t>(transport_of(payload.listener));
  if (result) result->generation = batch_.generation;
  if (looks_like_msgpack(payload.bytes)) {
    std::string error;
    if (!msgpack_to_json(payload.bytes, &transcoded_, &error)) {
      event_index_ = 1;  // an unreadable payload counts as one event
      reject(0, "", "msgpack: " + error, payload.bytes, RejectReason::kInvalid);
    } else {
      decode(transcoded_, false);
    }
  } else {
    decode(payload.bytes, payload.padded);
  }
  counters_.transports[transport_].received += static_cast<int64_t>(event_index_);
  payload_ = nullptr;
  result_ = nullptr;
}

void Ingest::reject_payload(const Payload& payload, std::string reason) {
  TransportCounts& counts = counters_.transports[static_cast<size_t>(transport_of(payload.listener))];
  ++counts.received;
  ++counts.rejected[static_cast<size_t>(RejectReason::kOversized)];
  ++counters_.events_rejected;
  batch_.dead_letters.push_back(DeadLetter{payload.received_ms, std::string(payload.listener),
                                           std::move(reason),
                                           std::string(payload.bytes.substr(0, kMaxDeadLetterBytes)),
                                           std::string(name_of(RejectReason::kOversized))});
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
  keyed_sums_.clear();    // and its bounds of the events just handed over
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
    ++batch_.accepted_by_source[transport_];  // accepted: OpenMeter takes them too
    return;
  }
  if (event.time_ms < payload_->received_ms - windows_.max_lateness_ms) {
    return reject(index, "time", "older than max_lateness", simdjson::minify(event.element),
                  RejectReason::kLate);
  }
  if (event.time_ms > payload_->received_ms + windows_.max_future_ms) {
    return reject(index, "time", "further ahead than max_future", simdjson::minify(event.element),
                  RejectReason::kFuture);
  }
  int64_t window_start = floor_div(event.time_ms, windows_.size_s * 1000) * windows_.size_s;
  bool keyed = payload_->acknowledged;
  // Fire-and-forget events go to the delta table, where the series-key cache finds a known
  // series' entries (null positions: the full lookup); acknowledged ones are kept per event.
  uint32_t* positions = nullptr;
  if (!keyed && type.has_series_key) {
    positions = series_cache_.positions(series_key(event, type, window_start), meters.size());
  }
  if (steps_.size() < meters.size()) steps_.resize(meters.size());
  // Every meter checks, even after one refused: the dead letter names every reason at once.
  bool refused = false;
  for (size_t i = 0; i < meters.size(); ++i) {
    refused |= !check_meter(*meters[i], event, window_start, positions ? &positions[i] : nullptr,
                            &steps_[i]);
  }
  if (refused) {
    reject(index, "data", refusals_, simdjson::minify(event.element), refusal_code_);
    refusals_.clear();
    return;
  }
  if (keyed) batch_.keyed.begin_event(event.source, event.id, event.has_time ? event.time_ms : 0);
  for (size_t i = 0; i < meters.size(); ++i) {
    add_to_meter(*meters[i], event, window_start, steps_[i],
                 positions ? &positions[i] : nullptr);
  }
  if (keyed) batch_.keyed.end_event();
  ++counters_.events_accepted;
  ++batch_.events;
  ++batch_.accepted_by_source[transport_];
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

bool Ingest::check_meter(const Meter& meter, const CloudEvent& event, int64_t window_start,
                         const uint32_t* position, MeterStep* step) {
  step->value = 1;  // a UNIQUE_COUNT event's, as Meter::value says
  bool valid = meter.counts_distinct()
                   ? meter.distinct_value(event, &step->distinct, &reason_scratch_)
                   : meter.value(event, &step->value, &reason_scratch_);
  if (!valid) return refuse(meter, reason_scratch_, RejectReason::kValue);
  if (position && *position != EventSeriesCache::kUnknown && !meter.counts_distinct()) {
    // The common case: an earlier event of the series found or made this entry in the interval
    // (so the cardinality bound admitted it already).
    step->route = MeterStep::Route::kCached;
    step->position = *position;
    return sum_stays_finite(meter, batch_.deltas.accumulator_at(*position).value_sum, step->value);
  }
  return check_series(meter, event, window_start, step);
}

bool Ingest::check_series(const Meter& meter, const CloudEvent& event, int64_t window_start,
                          MeterStep* step) {
  meter.identity(event, &step->identity, &group_scratch_);
  std::string_view identity = step->identity.view();
  if (identity.size() > kMaxSeriesIdentityBytes) {
    // Checked once per series and interval: the series-key cache's entries passed here.
    return refuse(meter,
                  fmt::format("subject and group values take {} bytes encoded; at most {} bytes",
                              identity.size(), kMaxSeriesIdentityBytes),
                  RejectReason::kInvalid);
  }
  bool keyed = payload_->acknowledged;
  if (!keyed && !meter.counts_distinct()) {
    // The series may have an entry already, made for an event with another series key (the
    // key spans every groupBy path of the type, this meter's identity only its own): then the
    // cardinality bound admitted it already.
    step->hash = WindowMap::hash_of(identity, window_start);
    if (size_t known = batch_.deltas.position_of(step->hash); known != WindowMap::kAbsent) {
      step->route = MeterStep::Route::kEntry;
      step->position = static_cast<uint32_t>(known);
      return sum_stays_finite(meter, batch_.deltas.accumulator_at(known).value_sum, step->value);
    }
  }
  // Checked, not counted: the series counts in phase 2, once every meter took the event.
  int64_t limit = meter.cardinality_limit() > 0 ? meter.cardinality_limit()
                                                : windows_.max_series_per_meter;
  if (!limiter_.check(identity, window_start, limit, payload_->received_ms, &step->admission)) {
    ++counters_.events_over_cardinality;
    return refuse(meter,
                  fmt::format("cardinality_limit: window {} already holds {} series",
                              window_start, limit),
                  RejectReason::kCardinality);
  }
  if (keyed) {
    step->route = MeterStep::Route::kKeyed;
    step->sum_key = 0;
    if (meter.has_unit_value()) return true;
    step->sum_key = keyed_sum_key(step->admission.hash, window_start);
    return keyed_sums_.fits(step->sum_key, step->value) || refuse(meter, kNonFiniteSum, RejectReason::kValue);
  }
  // A new entry's sum is the value alone, finite as every value is.
  step->route = meter.counts_distinct() ? MeterStep::Route::kDistinct : MeterStep::Route::kNewEntry;
  return true;
}

void Ingest::add_to_meter(const Meter& meter, const CloudEvent& event, int64_t window_start,
                          MeterStep& step, uint32_t* position) {
  if (step.route != MeterStep::Route::kCached) {
    return add_to_series(meter, event, window_start, step, position);
  }
  batch_.deltas.accumulator_at(step.position).add(step.value, event.time_ms);
}

void Ingest::add_to_series(const Meter& meter, const CloudEvent& event, int64_t window_start,
                           MeterStep& step, uint32_t* position) {
  std::string_view identity = step.identity.view();
  switch (step.route) {
    case MeterStep::Route::kCached:  // added by add_to_meter, never here
    case MeterStep::Route::kEntry:
      break;
    case MeterStep::Route::kNewEntry:
      limiter_.admit(step.admission, identity, window_start, payload_->received_ms);
      step.position = static_cast<uint32_t>(batch_.deltas.place(step.hash, identity, window_start));
      break;
    case MeterStep::Route::kDistinct:
      limiter_.admit(step.admission, identity, window_start, payload_->received_ms);
      batch_.deltas.add_distinct(identity, window_start, step.distinct, event.time_ms);
      return;
    case MeterStep::Route::kKeyed: {
      limiter_.admit(step.admission, identity, window_start, payload_->received_ms);
      if (step.sum_key != 0) keyed_sums_.add(step.sum_key, step.value);
      std::string_view distinct = step.distinct;
      batch_.keyed.add(identity, window_start, step.value, event.time_ms,
                       meter.counts_distinct() ? &distinct : nullptr);
      return;
    }
  }
  if (position) *position = step.position;  // the series-key cache knows the entry from now on
  batch_.deltas.accumulator_at(step.position).add(step.value, event.time_ms);
}

bool Ingest::sum_stays_finite(const Meter& meter, double sum, double value) {
  return std::isfinite(sum + value) || refuse(meter, kNonFiniteSum, RejectReason::kValue);
}

bool Ingest::refuse(const Meter& meter, std::string_view reason, RejectReason code) {
  if (refusals_.empty()) {
    refusal_code_ = code;  // the first refusing meter's class names the event's
  } else {
    refusals_.append("; ");
  }
  fmt::format_to(std::back_inserter(refusals_), "meter {}: {}", meter.slug(), reason);
  return false;
}

const Ingest::KeyedSums::Slot* Ingest::KeyedSums::find(uint64_t key) const {
  if (slots_.empty()) return nullptr;
  size_t mask = slots_.size() - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    if (slots_[i].key == key) return &slots_[i];
    if (slots_[i].key == 0) return nullptr;
  }
}

bool Ingest::KeyedSums::fits(uint64_t key, double value) const {
  const Slot* slot = find(key);
  double side = !slot ? 0 : value < 0 ? slot->negative : slot->positive;
  return std::isfinite(side + value);
}

void Ingest::KeyedSums::add(uint64_t key, double value) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  Slot& slot = slot_for(key);
  if (slot.key == 0) {
    slot.key = key;
    ++size_;
  }
  (value < 0 ? slot.negative : slot.positive) += value;
}

Ingest::KeyedSums::Slot& Ingest::KeyedSums::slot_for(uint64_t key) {
  size_t mask = slots_.size() - 1;
  size_t i = key & mask;
  while (slots_[i].key != key && slots_[i].key != 0) i = (i + 1) & mask;
  return slots_[i];
}

void Ingest::KeyedSums::grow() {
  std::vector<Slot> old(std::max<size_t>(kMinSlots, slots_.size() * 2));
  old.swap(slots_);
  for (const Slot& slot : old) {
    if (slot.key != 0) slot_for(slot.key) = slot;
  }
}

void Ingest::KeyedSums::clear() {
  if (size_ == 0 && slots_.size() <= kMinSlots) return;  // every slot is free already
  // Sized for a batch like the one that ended: as large as it needed, never much larger.
  size_t slots = kMinSlots;
  while (size_ * 2 > slots) slots *= 2;
  if (slots == slots_.size()) {
    std::fill(slots_.begin(), slots_.end(), Slot{});
  } else {
    std::vector<Slot>(slots).swap(slots_);
  }
  size_ = 0;
}

void Ingest::on_invalid(size_t, std::string_view field, std::string_view reason,
                        std::string_view raw) {
  size_t index = event_index_++;
  if (result_) ++result_->events;
  reject(index, field, std::string(reason), raw, RejectReason::kInvalid);
}

void Ingest::reject(size_t index, std::string_view field, std::string reason,
                    std::string_view raw, RejectReason code) {
  ++counters_.events_rejected;
  ++counters_.transports[transport_].rejected[static_cast<size_t>(code)];
  if (result_) result_->errors.push_back(EventError{index, std::string(field), reason});
  std::string full = field.empty() ? fmt::format("event {}: {}", index, reason)
                                   : fmt::format("event {}: {}: {}", index, field, reason);
  batch_.dead_letters.push_back(DeadLetter{payload_->received_ms, std::string(payload_->listener),
                                           std::move(full),
                                           std::string(raw.substr(0, kMaxDeadLetterBytes)),
                                           std::string(name_of(code))});
}

}  // namespace meterd
