// UplinkStats: what the uplink thread has done since start, published once a turn of its loop
// (never once a record) for the admin listener's metrics and health check.
#pragma once

#include <cstdint>
#include <string>

#include "buffer/base/histogram.h"

namespace meterd {

struct UplinkStats {
  int64_t records_produced = 0;    // window records handed to librdkafka (resends included)
  int64_t records_delivered = 0;   // confirmed by the broker
  int64_t delivery_errors = 0;     // delivery reports with an error, refused produces
  Histogram delivery_latency;      // produce → confirmation, seconds
  bool broker_connected = false;   // at least one broker up (librdkafka's view)
  int64_t last_delivery_unix_ms = 0;
  std::string last_error;          // newest delivery or broker error
  int64_t last_tick_steady_ms = 0; // steady_clock_ms() at the loop's last turn
  int64_t dead_letters_produced = 0;
  int64_t dead_letters_delivered = 0;
};

}  // namespace meterd
