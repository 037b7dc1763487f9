// StatusDoc: meterd's GET /status document (agent/admin/PROTOCOL.md) as meterctl reads it.
//
// The parse is strict about the keys meterctl shows: a document without them is not meterd's
// /status (another program on the port, a proxy's error page), and saying so beats showing
// zeros. Transports and refusal reasons are read as the document names them, so a transport
// added to meterd shows up without a change here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "buffer/base/status.h"

namespace meterd {

struct TransportCounts {
  std::string name;
  int64_t received = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;  // every refusal reason together
};

struct StatusDoc {
  std::string version;
  std::string agent_id;
  std::string state;  // starting, running or draining
  double uptime_seconds = 0;

  bool healthy = false;
  std::string health_reason;
  bool broker_connected = false;
  bool ready = false;
  std::string ready_reason;

  std::vector<TransportCounts> transports;  // in the document's order
  int64_t deduplicated = 0;

  int64_t buffer_bytes = 0;
  int64_t buffer_limit_bytes = 0;
  int64_t outbox_records = 0;
  double outbox_oldest_age_seconds = 0;
  int64_t open_windows = 0;
  int64_t dead_letters = 0;
  int64_t dead_letters_evicted = 0;
  std::vector<std::pair<std::string, int64_t>> dead_letters_by_reason;
  std::string buffer_error;  // why meterd could not read its buffer; usually empty

  int64_t commit_count = 0;
  double commit_seconds_sum = 0;
  int64_t commit_failures = 0;

  int64_t records_produced = 0;
  int64_t records_delivered = 0;
  int64_t delivery_errors = 0;
  int64_t delivery_latency_count = 0;
  double delivery_latency_seconds_sum = 0;
  int64_t last_delivery_unix_ms = 0;  // 0: none since meterd started
  std::string last_error;
};

// Reads `json` into `out`; an error names the first missing or mistyped key.
Status parse_status(std::string_view json, StatusDoc* out);

}  // namespace meterd
