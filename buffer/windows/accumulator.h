// Accumulator: the running aggregate of one series in one window.
//
// It carries every quantity an OpenMeter aggregation needs (count, sum, min, max, latest), so a
// window's record can answer SUM, COUNT, AVG, MIN, MAX and LATEST queries alike. Accumulators are
// additive: merging two partials of the same window gives the partial of their union, which is
// what makes deltas, revisions and crash-resends composable.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace meterd {

struct Accumulator {
  int64_t event_count = 0;
  double value_sum = 0;
  double value_min = std::numeric_limits<double>::infinity();
  double value_max = -std::numeric_limits<double>::infinity();
  double latest_value = 0;
  int64_t latest_time_ms = std::numeric_limits<int64_t>::min();

  // Adds one event. Ties on event time go to the later arrival, as OpenMeter's LATEST does.
  void add(double value, int64_t time_ms) {
    ++event_count;
    value_sum += value;
    value_min = std::min(value_min, value);
    value_max = std::max(value_max, value);
    if (time_ms >= latest_time_ms) {
      latest_value = value;
      latest_time_ms = time_ms;
    }
  }

  // Whether a record can carry it: a sum beyond the doubles is +-inf (or NaN), which neither
  // SQLite's REAL nor the record's JSON holds.
  bool finite() const { return std::isfinite(value_sum) && std::isfinite(latest_value); }

  // Merges a partial that arrived after this one.
  void merge(const Accumulator& later) {
    event_count += later.event_count;
    value_sum += later.value_sum;
    value_min = std::min(value_min, later.value_min);
    value_max = std::max(value_max, later.value_max);
    if (later.latest_time_ms >= latest_time_ms) {
      latest_value = later.latest_value;
      latest_time_ms = later.latest_time_ms;
    }
  }
};

}  // namespace meterd
