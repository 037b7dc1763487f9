// Histogram: counts of observed durations in fixed buckets, the shape Prometheus exposes
// (cumulative `le` buckets, a sum and a count). The commit time and the delivery latency are
// kept in one each.
//
// Not thread-safe: one thread observes; another reads a copy taken under the owner's lock (a
// Histogram is a few hundred bytes, copied once a scrape).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace meterd {

class Histogram {
 public:
  // Upper bounds in seconds, from a millisecond to a minute: a commit takes milliseconds, a
  // delivery through a broker outage can take as long as the outage (those land in +Inf).
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,  0.1,    0.25,  0.5,  1,
                                                     2.5,   5,      10,    60};

  void observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++counts_[i];
    sum_ += seconds;
    ++count_;
  }

  // Observations at most kBounds[i] (i == kBounds.size(): all of them).
  uint64_t cumulative(size_t i) const {
    uint64_t total = 0;
    for (size_t j = 0; j <= i && j < counts_.size(); ++j) total += counts_[j];
    return total;
  }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::array<uint64_t, kBounds.size() + 1> counts_{};  // the last: over every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace meterd
