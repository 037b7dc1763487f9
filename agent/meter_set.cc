// Meter matching and extraction (see meter_set.h). Values follow OpenMeter: a JSON number or a
// string holding one; anything else is refused with a reason rather than guessed at.
#include "agent/meter_set.h"

#include <charconv>
#include <cmath>

#include "buffer/series_identity.h"

namespace meterd {
namespace {

// The text a group value is written as: strings as they are, other scalars as their JSON.
void group_text(simdjson::dom::element value, std::string* out) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out->assign(text);
  } else if (value.is_null()) {
    out->clear();
  } else {
    *out = simdjson::minify(value);
  }
}

}  // namespace

Meter::Meter(const MeterConfig& config) : config_(config) {
  append_field(&identity_prefix_, config_.slug);
}

bool Meter::value(const CloudEvent& event, double* value, std::string* reason) const {
  if (config_.aggregation == Aggregation::kCount) {
    *value = 1;
    return true;
  }
  simdjson::dom::element found;
  if (!event.has_data || !config_.value_property->find(event.data, &found)) {
    *reason = "value missing at " + config_.value_property->text();
    return false;
  }
  std::string_view text;
  switch (found.type()) {
    case simdjson::dom::element_type::INT64:
      *value = static_cast<double>(int64_t(found));
      return true;
    case simdjson::dom::element_type::UINT64:
      *value = static_cast<double>(uint64_t(found));
      return true;
    case simdjson::dom::element_type::DOUBLE:
      *value = double(found);
      return true;
    case simdjson::dom::element_type::STRING: {
      text = std::string_view(found);
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
      if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        *reason = "value is a non-numeric string";
        return false;
      }
      if (!std::isfinite(*value)) {
        *reason = "value is not finite";
        return false;
      }
      return true;
    }
    default:
      *reason = "value is not a number";
      return false;
  }
}

void Meter::identity(const CloudEvent& event, std::string* out) const {
  out->assign(identity_prefix_);
  append_field(out, event.subject);
  std::string text;
  for (const auto& [name, path] : config_.group_by) {
    simdjson::dom::element found;
    if (event.has_data && path.find(event.data, &found)) {
      group_text(found, &text);
    } else {
      text.clear();
    }
    append_field(out, name);
    append_field(out, text);
  }
}

MeterSet::MeterSet(const std::vector<MeterConfig>& meters) {
  meters_.reserve(meters.size());  // by_type_ points into meters_
  for (const MeterConfig& config : meters) meters_.emplace_back(config);
  for (size_t i = 0; i < meters.size(); ++i) {
    by_type_[meters[i].event_type].push_back(&meters_[i]);
  }
}

const std::vector<const Meter*>& MeterSet::for_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? none_ : it->second;
}

}  // namespace meterd
