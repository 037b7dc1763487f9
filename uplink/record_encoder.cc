// JSON encoding of window records (see uplink/FORMAT.md for the fields and their meaning).
//
// Numbers use fmt's shortest round-trip form, so an integer-valued sum prints without a fraction
// and every double survives the trip into ClickHouse's Float64 unchanged.
#include "uplink/record_encoder.h"

#include <cmath>

#include <fmt/format.h>

#include "buffer/base/json_text.h"

namespace meterd {
namespace {

void append_number(std::string* out, double value) {
  // Non-finite values never reach a window (they are dead letters), but a consumer must never
  // be sent invalid JSON, so guard anyway.
  if (!std::isfinite(value)) value = 0;
  fmt::format_to(std::back_inserter(*out), "{}", value);
}

template <typename Field>
void append_array(std::string* out, const SeriesParts& series, Field field) {
  out->push_back('[');
  for (size_t i = 0; i < series.groups.size(); ++i) {
    if (i) out->push_back(',');
    append_json_string(out, field(series.groups[i]));
  }
  out->push_back(']');
}

// The store wrote the array with SQLite's JSON functions, which escape as RFC 8259 requires.
// Anything that does not even look like an array (a damaged buffer) becomes "[]": a consumer
// must never be sent invalid JSON, and an older ClickHouse stalls its partition on it.
void append_distinct_values(std::string* out, std::string_view json) {
  bool looks_like_array = json.size() >= 2 && json.front() == '[' && json.back() == ']';
  out->append(looks_like_array ? json : std::string_view("[]"));
}

}  // namespace

void encode_record(std::string_view agent_id, const OutboxRow& row, std::string* out) {
  out->clear();
  out->append("{\"idempotency_key\":");
  append_json_string(out, row.idempotency_key);
  out->append(",\"agent_id\":");
  append_json_string(out, agent_id);
  out->append(",\"meter\":");
  append_json_string(out, row.series.meter);
  out->append(",\"subject\":");
  append_json_string(out, row.series.subject);
  out->append(",\"group_keys\":");
  append_array(out, row.series, [](const auto& group) { return std::string_view(group.first); });
  out->append(",\"group_values\":");
  append_array(out, row.series, [](const auto& group) { return std::string_view(group.second); });
  const Accumulator& v = row.values;
  fmt::format_to(std::back_inserter(*out),
                 ",\"window_start\":{},\"window_size_s\":{},\"revision\":{},\"event_count\":{}",
                 row.window_start, row.window_size_s, row.revision, v.event_count);
  out->append(",\"value_sum\":");
  append_number(out, v.value_sum);
  out->append(",\"value_min\":");
  append_number(out, v.value_min);
  out->append(",\"value_max\":");
  append_number(out, v.value_max);
  out->append(",\"latest_value\":");
  append_number(out, v.latest_value);
  fmt::format_to(std::back_inserter(*out), ",\"latest_time_ms\":{},\"distinct_values\":",
                 v.latest_time_ms);
  append_distinct_values(out, row.distinct_values_json);
  out->push_back('}');
}

}  // namespace meterd
