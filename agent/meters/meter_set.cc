// Meter matching and extraction (see meter_set.h). Values follow OpenMeter: a JSON number or a
// string holding one; anything else is refused with a reason rather than guessed at.
//
// Precision: every value becomes an IEEE double, so integers are exact up to 2^53 and larger
// ones round to the nearest double. Numeric strings are parsed like Go's strconv.ParseFloat
// (OpenMeter's parser): an optional sign, decimal or exponent form, "NaN"/"Inf" recognised and
// then refused; a string beyond the double range is refused as an overflow, one too small to
// represent reads as zero (or the nearest subnormal), as Go does.
#include "agent/meters/meter_set.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "buffer/windows/distinct_chunks.h"
#include "buffer/identity/series_identity.h"

namespace meterd {
namespace {

// The text of a group value that is not a string: empty for null, other scalars as their JSON.
void group_text(simdjson::dom::element value, std::string* out) {
  if (value.is_null()) {
    out->clear();
  } else {
    *out = simdjson::minify(value);
  }
}

// Why a non-numeric JSON type cannot be a value.
const char* type_reason(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::BOOL: return "value is a boolean, not a number";
    case simdjson::dom::element_type::ARRAY: return "value is an array, not a number";
    case simdjson::dom::element_type::OBJECT: return "value is an object, not a number";
    default: return "value is not a number";
  }
}

bool parse_numeric_string(std::string_view text, double* value, std::string* reason) {
  // from_chars takes no leading '+'; Go's ParseFloat does.
  std::string_view digits = text;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), *value);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (error != std::errc() && error != std::errc::result_out_of_range)) {
    *reason = "value is a non-numeric string";
    return false;
  }
  if (error == std::errc::result_out_of_range) {
    // from_chars leaves *value untouched on a range error; strtod tells overflow (±HUGE_VAL)
    // from underflow (0 or a subnormal), which Go accepts.
    *value = std::strtod(std::string(digits).c_str(), nullptr);
    if (std::isinf(*value)) {
      *reason = "value overflows a double (beyond ±1.8e308)";
      return false;
    }
    return true;
  }
  if (std::isnan(*value)) {
    *reason = "value is NaN";
    return false;
  }
  if (std::isinf(*value)) {
    *reason = "value is infinite";
    return false;
  }
  return true;
}

}  // namespace

Meter::Meter(const MeterConfig& config) : config_(config) {
  append_field(&identity_prefix_, config_.slug);
}

bool Meter::find_value(const CloudEvent& event, simdjson::dom::element* found,
                       std::string* reason) const {
  if (!event.has_data || !config_.value_property->find(event.data, found)) {
    *reason = "value missing at " + config_.value_property->text();
    return false;
  }
  if (found->is_null()) {
    *reason = "value is null";
    return false;
  }
  return true;
}

bool Meter::value(const CloudEvent& event, double* value, std::string* reason) const {
  if (config_.aggregation == Aggregation::kCount ||
      config_.aggregation == Aggregation::kUniqueCount) {
    *value = 1;
    return true;
  }
  simdjson::dom::element found;
  if (!find_value(event, &found, reason)) return false;
  switch (found.type()) {
    case simdjson::dom::element_type::INT64:
      *value = static_cast<double>(int64_t(found));
      return true;
    case simdjson::dom::element_type::UINT64:
      *value = static_cast<double>(uint64_t(found));
      return true;
    case simdjson::dom::element_type::DOUBLE:
      *value = double(found);  // simdjson refuses non-finite and out-of-range numbers itself
      return true;
    case simdjson::dom::element_type::STRING:
      return parse_numeric_string(std::string_view(found), value, reason);
    default:
      *reason = type_reason(found.type());
      return false;
  }
}

bool Meter::distinct_value(const CloudEvent& event, std::string* text, std::string* reason) const {
  simdjson::dom::element found;
  if (!find_value(event, &found, reason)) return false;
  switch (found.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view value(found);
      // Every value of a window travels in its records (distinct_chunks.h): an identifier is
      // short, and a very long value is a mistake that would make records too large.
      if (value.size() > DistinctChunks::kMaxValueBytes) {
        *reason = fmt::format(
            "value is {} bytes long; UNIQUE_COUNT counts values of at most {} bytes", value.size(),
            DistinctChunks::kMaxValueBytes);
        return false;
      }
      text->assign(value);
      return true;
    }
    case simdjson::dom::element_type::INT64:
      *text = std::to_string(int64_t(found));
      return true;
    case simdjson::dom::element_type::UINT64:
      *text = std::to_string(uint64_t(found));
      return true;
    case simdjson::dom::element_type::DOUBLE: {
      double number = double(found);
      // Integral doubles print as integers so 1.0 and 1 are one value; others in their
      // shortest round-trip form.
      if (std::trunc(number) == number && std::fabs(number) < 9.2e18) {
        *text = std::to_string(static_cast<int64_t>(number));
      } else {
        *text = fmt::format("{}", number);
      }
      return true;
    }
    case simdjson::dom::element_type::BOOL:
      *text = bool(found) ? "true" : "false";
      return true;
    default:
      *reason = type_reason(found.type());
      return false;
  }
}

std::string_view group_value(const CloudEvent& event, const JsonPath& path, std::string* scratch) {
  simdjson::dom::element found;
  std::string_view text;  // stays empty for a missing path
  if (event.has_data && path.find(event.data, &found) &&
      found.get_string().get(text) != simdjson::SUCCESS) {
    group_text(found, scratch);  // other scalars as their JSON
    text = *scratch;
  }
  return text;
}

void Meter::identity(const CloudEvent& event, SeriesIdentityWriter* out,
                     std::string* scratch) const {
  out->start(identity_prefix_);
  out->field(event.subject);
  for (const auto& [name, path] : config_.group_by) {
    out->field(name);
    out->field(group_value(event, path, scratch));
  }
}

MeterSet::MeterSet(const std::vector<MeterConfig>& meters) {
  meters_.reserve(meters.size());  // by_type_ points into meters_
  for (const MeterConfig& config : meters) meters_.emplace_back(config);
  for (const Meter& meter : meters_) {
    const std::string& type = meter.event_type();
    auto [it, fresh] = by_type_.try_emplace(type);
    TypeMeters& of_type = it->second;
    if (fresh) append_field(&of_type.key_prefix, type);
    of_type.meters.push_back(&meter);
    if (meter.counts_distinct()) continue;
    of_type.has_series_key = true;
    for (const auto& [name, path] : meter.group_by()) {
      bool known = false;
      for (const JsonPath* seen : of_type.group_paths) known |= seen->text() == path.text();
      if (!known) of_type.group_paths.push_back(&path);
    }
  }
}

const TypeMeters& MeterSet::for_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? none_ : it->second;
}

}  // namespace meterd
