// Meter matching and extraction (see meter_set.h). Values follow OpenMeter: a JSON number or a
// string holding one; anything else is refused with a reason rather than guessed at.
//
// Precision: every value becomes an IEEE double, so integers are exact up to 2^53 and larger
// ones round to the nearest double. Numeric strings are parsed like Go's strconv.ParseFloat
// (OpenMeter's parser): an optional sign, decimal or exponent form, "NaN"/"Inf" recognised and
// then refused; a string beyond the double range is refused as an overflow, one too small to
// represent reads as zero (or the nearest subnormal), as Go does.
#include "agent/meter_set.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "buffer/series_identity.h"

namespace meterd {
namespace {

// The text a group value is written as: strings as they are, other scalars as their JSON.
void group_text(const DataValue& value, std::string* out) {
  switch (value.kind) {
    case DataValue::Kind::kMissing:
    case DataValue::Kind::kNull:
      out->clear();
      return;
    case DataValue::Kind::kBool:
      out->assign(value.boolean ? "true" : "false");
      return;
    case DataValue::Kind::kObject:
    case DataValue::Kind::kArray:
      *out = minified(value.text);
      return;
    default:  // a string's text, a number as written
      out->assign(value.text);
      return;
  }
}

// Why a non-numeric JSON type cannot be a value.
const char* type_reason(DataValue::Kind kind) {
  switch (kind) {
    case DataValue::Kind::kBool: return "value is a boolean, not a number";
    case DataValue::Kind::kArray: return "value is an array, not a number";
    case DataValue::Kind::kObject: return "value is an object, not a number";
    case DataValue::Kind::kBadNumber:
      return "value is a number beyond ±1.8e308 or an integer beyond 64 bits (send it as a "
             "string to have it rounded to a double)";
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

Meter::Meter(const MeterConfig& config, DataPaths* paths) : config_(config) {
  append_field(&identity_prefix_, config_.slug);
  if (config_.value_property) value_slot_ = paths->add(*config_.value_property);
  for (const auto& group : config_.group_by) group_slots_.push_back(paths->add(group.second));
}

const DataValue* Meter::find_value(const CloudEvent& event, std::string* reason) const {
  const DataValue* found = event.has_data ? &event.values[value_slot_] : nullptr;
  if (!found || found->kind == DataValue::Kind::kMissing) {
    *reason = "value missing at " + config_.value_property->text();
    return nullptr;
  }
  if (found->kind == DataValue::Kind::kNull) {
    *reason = "value is null";
    return nullptr;
  }
  return found;
}

bool Meter::value(const CloudEvent& event, double* value, std::string* reason) const {
  if (config_.aggregation == Aggregation::kCount ||
      config_.aggregation == Aggregation::kUniqueCount) {
    *value = 1;
    return true;
  }
  const DataValue* found = find_value(event, reason);
  if (!found) return false;
  switch (found->kind) {
    case DataValue::Kind::kInteger:
      *value = static_cast<double>(found->integer);
      return true;
    case DataValue::Kind::kUnsigned:
      *value = static_cast<double>(found->unsigned_integer);
      return true;
    case DataValue::Kind::kDouble:
      *value = found->number;  // simdjson refuses non-finite and out-of-range numbers itself
      return true;
    case DataValue::Kind::kString:
      return parse_numeric_string(found->text, value, reason);
    default:
      *reason = type_reason(found->kind);
      return false;
  }
}

bool Meter::distinct_value(const CloudEvent& event, std::string* text, std::string* reason) const {
  const DataValue* found = find_value(event, reason);
  if (!found) return false;
  switch (found->kind) {
    case DataValue::Kind::kString:
      text->assign(found->text);
      return true;
    case DataValue::Kind::kInteger:
      *text = std::to_string(found->integer);
      return true;
    case DataValue::Kind::kUnsigned:
      *text = std::to_string(found->unsigned_integer);
      return true;
    case DataValue::Kind::kDouble: {
      double number = found->number;
      // Integral doubles print as integers so 1.0 and 1 are one value; others in their
      // shortest round-trip form.
      if (std::trunc(number) == number && std::fabs(number) < 9.2e18) {
        *text = std::to_string(static_cast<int64_t>(number));
      } else {
        *text = fmt::format("{}", number);
      }
      return true;
    }
    case DataValue::Kind::kBool:
      *text = found->boolean ? "true" : "false";
      return true;
    default:
      *reason = type_reason(found->kind);
      return false;
  }
}

void Meter::identity(const CloudEvent& event, std::string* out, std::string* scratch) const {
  out->assign(identity_prefix_);
  append_field(out, event.subject);
  for (size_t i = 0; i < group_slots_.size(); ++i) {
    if (event.has_data) {
      group_text(event.values[group_slots_[i]], scratch);
    } else {
      scratch->clear();
    }
    append_field(out, config_.group_by[i].first);
    append_field(out, *scratch);
  }
}

MeterSet::MeterSet(const std::vector<MeterConfig>& meters) {
  meters_.reserve(meters.size());  // by_type_ points into meters_
  for (const MeterConfig& config : meters) meters_.emplace_back(config, &paths_);
  for (size_t i = 0; i < meters.size(); ++i) {
    by_type_[meters[i].event_type].push_back(&meters_[i]);
  }
}

const std::vector<const Meter*>& MeterSet::for_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? none_ : it->second;
}

}  // namespace meterd
