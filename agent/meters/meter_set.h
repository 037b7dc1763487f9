// MeterSet: the configured meters, indexed by event type, and the per-event work of a meter:
// extracting its value and building the series identity from the subject and groupBy values.
//
// Built once at start-up from the config and then read-only, so the ingest thread uses it
// without locks. One event may feed several meters.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/decode/cloudevent_decoder.h"
#include "agent/config/config.h"
#include "buffer/identity/series_identity.h"

namespace meterd {

class Meter {
 public:
  explicit Meter(const MeterConfig& config);

  const std::string& slug() const { return config_.slug; }
  const std::string& event_type() const { return config_.event_type; }
  bool counts_distinct() const { return config_.aggregation == Aggregation::kUniqueCount; }
  // Every event's value is 1 (COUNT, UNIQUE_COUNT), so this meter's sums cannot overflow.
  bool has_unit_value() const {
    return config_.aggregation == Aggregation::kCount || counts_distinct();
  }
  // The configured limit of series per window (0: the global default applies).
  int64_t cardinality_limit() const { return config_.cardinality_limit; }

  // The event's value for this meter (1 for COUNT and UNIQUE_COUNT). On failure returns false
  // and `reason` says why, in the words dead letters use.
  bool value(const CloudEvent& event, double* value, std::string* reason) const;

  // UNIQUE_COUNT only: the text of the event's value, the thing counted distinct. Strings are
  // kept as they are; numbers are written so equal numbers compare equal (1, 1.0 and 1e0 are
  // all "1"); booleans are "true"/"false". Null, objects and arrays are refused with a reason.
  bool distinct_value(const CloudEvent& event, std::string* text, std::string* reason) const;

  // Writes the series identity (series_identity.h) of `event` for this meter into `out`.
  // A missing group path yields an empty string, as in OpenMeter.
  // `scratch` holds a group value that is not a string (kept by the caller so no call allocates).
  void identity(const CloudEvent& event, SeriesIdentityWriter* out, std::string* scratch) const;

  const std::vector<std::pair<std::string, JsonPath>>& group_by() const { return config_.group_by; }

 private:
  // The element at valueProperty, or false with the "missing"/"null" reason.
  bool find_value(const CloudEvent& event, simdjson::dom::element* found,
                  std::string* reason) const;

  MeterConfig config_;
  std::string identity_prefix_;  // the encoded slug, computed once
};

// The text a groupBy value takes in a series identity: a string's own text, other scalars as
// their JSON, empty when the path is missing (as in OpenMeter) or null. `scratch` holds a text
// that is not a string's.
std::string_view group_value(const CloudEvent& event, const JsonPath& path, std::string* scratch);

// The meters of one event type, and what names an event's series for all of them at once
// (event_series_cache.h): its subject and its values at every groupBy path of these meters
// (the union: each meter's identity takes a subset of them). Two events of the type that agree
// on those have the same series identity for every such meter. UNIQUE_COUNT meters are left
// out: they look their entries up by identity, since they add the distinct value there too.
struct TypeMeters {
  std::vector<const Meter*> meters;
  std::vector<const JsonPath*> group_paths;  // distinct by text
  std::string key_prefix;  // the type, encoded: keeps series of two types apart
  bool has_series_key = false;  // some meter of the type uses it (one is not UNIQUE_COUNT)
};

class MeterSet {
 public:
  explicit MeterSet(const std::vector<MeterConfig>& meters);
  MeterSet(const MeterSet&) = delete;  // by_type_ points into meters_
  MeterSet& operator=(const MeterSet&) = delete;

  // The meters whose eventType is `type`; none when no meter matches.
  const TypeMeters& for_type(std::string_view type) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::vector<Meter> meters_;
  std::unordered_map<std::string, TypeMeters, Hash, std::equal_to<>> by_type_;
  TypeMeters none_;
};

}  // namespace meterd
