// What two readings of /status mean: the rates between them (StatusRates) and the verdict
// `meterctl status` turns into its exit code (Judgement).
//
// Counters in /status are totals since meterd started, so a rate needs two readings; a counter
// that went down between them means meterd restarted, and its rate is taken as 0 rather than
// shown negative. The verdict's rules are written once here so the exit code, the text and the
// --json output always agree:
//   2 down:     meterd not running or not answering, or its health check fails;
//   1 degraded: broker unreachable, buffer over 80 % of its limit, dead letters added between
//               the readings, or not ready (buffer full, draining, starting);
//   0 healthy:  none of these.
#pragma once

#include <string>
#include <vector>

#include "agent/ctl/status_doc.h"

namespace meterd {

struct TransportRates {
  std::string name;
  double received = 0;  // per second
  double accepted = 0;
  double rejected = 0;
};

struct StatusRates {
  double seconds = 0;  // between the two readings
  std::vector<TransportRates> transports;
  double delivered = 0;  // records confirmed by Kafka per second
  double delivery_errors = 0;
  double delivery_latency_mean_s = -1;  // over the deliveries in between; -1: none
  double commits = 0;                   // per second
  double commit_mean_s = -1;            // over the commits in between; -1: none
  int64_t dead_letters_added = 0;       // kept plus evicted, between the readings
  double outbox_records = 0;            // change per second (+: the backlog grows)
  double outbox_oldest_age = 0;         // change of the oldest age per second (0: an outbox
                                        // empty at either reading)
};

// `seconds` is the time between the readings; 0 or less gives rates of 0.
StatusRates compute_rates(const StatusDoc& before, const StatusDoc& after, double seconds);

enum class Verdict { kHealthy = 0, kDegraded = 1, kDown = 2 };

struct Judgement {
  Verdict verdict = Verdict::kHealthy;
  std::vector<std::string> problems;  // one short phrase each; empty when healthy

  int exit_code() const { return static_cast<int>(verdict); }
  void add(Verdict level, std::string problem);
};

const char* verdict_name(Verdict verdict);  // healthy, degraded, down

// The verdict on a running meterd from two readings (before may equal after: no rates then).
Judgement judge_status(const StatusDoc& before, const StatusDoc& after);

// The buffer's share of its limit in percent; -1 when there is no limit.
double buffer_percent(int64_t bytes, int64_t limit_bytes);

inline constexpr double kBufferDegradedPercent = 80;

}  // namespace meterd
