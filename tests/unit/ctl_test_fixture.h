// /status documents for meterctl's unit tests, in the shape agent/admin/PROTOCOL.md fixes: a
// healthy meterd by default, each field a test may change before writing the JSON.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "agent/ctl/status_doc.h"
#include "buffer/base/json_text.h"

namespace meterd::ctl_test {

struct Fixture {
  double uptime = 100;
  bool healthy = true;
  std::string health_reason;
  bool broker_connected = true;
  bool ready = true;
  std::string ready_reason;
  std::string agent_id = "web-1";
  int64_t udp_received = 1000, udp_accepted = 990, udp_invalid = 6, udp_value = 4;
  int64_t http_received = 50, http_accepted = 50;
  int64_t size_bytes = 100 << 20, limit_bytes = 1 << 30;
  int64_t outbox_records = 12;
  double oldest_age = 30;
  int64_t dead_letters = 10, dead_letters_evicted = 0;
  int64_t commits = 500;
  double commit_seconds = 1.0;
  int64_t delivered = 400, latency_count = 400;
  double latency_seconds = 2.0;
  int64_t last_delivery_ms = 1'700'000'000'000;
  std::string last_error;

  std::string json() const {
    auto text = [](const std::string& s) {
      std::string out;
      append_json_string(&out, s);
      return out;
    };
    std::string rejected = "{\"invalid\": " + std::to_string(udp_invalid) +
                           ", \"value\": " + std::to_string(udp_value) +
                           ", \"late\": 0, \"future\": 0, \"cardinality\": 0, "
                           "\"buffer_full\": 0, \"oversized\": 0}";
    return fmt::format(
        R"({{"version": "0.1.0", "agent_id": {}, "state": "running", "uptime_seconds": {},
  "health": {{"healthy": {}, "reason": {}, "loops": {{"ingest": 0.1, "store": 0.1,
    "uplink": 0.05}}, "broker_connected": {}}},
  "ready": {{"ready": {}, "reason": {}}},
  "events": {{
    "received": {{"udp": {}, "unix_datagram": 0, "unix_stream": 0, "http": {}}},
    "accepted": {{"udp": {}, "unix_datagram": 0, "unix_stream": 0, "http": {}}},
    "rejected": {{"udp": {}, "unix_datagram": {{}}, "unix_stream": {{}}, "http": {{}}}},
    "deduplicated": 3, "datagrams_dropped": {{"udp": 0, "unix_datagram": 0}}}},
  "buffer": {{"size_bytes": {}, "limit_bytes": {}, "open_windows": 7, "series": 9,
    "outbox_records": {}, "outbox_oldest_age_seconds": {}, "dead_letters": {},
    "dead_letters_evicted": {}, "dead_letters_by_reason": {{"invalid": 6, "value": 4}},
    "error": ""}},
  "commit": {{"count": {}, "seconds_sum": {}, "failures": 0}},
  "uplink": {{"records_produced": 410, "records_delivered": {}, "delivery_errors": 1,
    "delivery_latency": {{"count": {}, "seconds_sum": {}}},
    "last_delivery_unix_ms": {}, "last_error": {}}}}})",
        text(agent_id), uptime, healthy, text(health_reason), broker_connected, ready,
        text(ready_reason), udp_received, http_received, udp_accepted, http_accepted, rejected,
        size_bytes, limit_bytes, outbox_records, oldest_age, dead_letters, dead_letters_evicted,
        commits, commit_seconds, delivered, latency_count, latency_seconds, last_delivery_ms,
        text(last_error));
  }

  StatusDoc doc() const {
    StatusDoc d;
    if (Status s = parse_status(json(), &d); !s) throw std::runtime_error(s.message());
    return d;
  }
};

}  // namespace meterd::ctl_test
