// Rates and the verdict (see status_verdict.h).
#include "agent/ctl/status_verdict.h"

#include <fmt/format.h>

#include <algorithm>

namespace meterd {
namespace {

// A counter's increase; a decrease means meterd restarted in between, which is no rate at all.
int64_t increase(int64_t before, int64_t after) { return std::max<int64_t>(0, after - before); }

double per_second(int64_t before, int64_t after, double seconds) {
  return seconds > 0 ? static_cast<double>(increase(before, after)) / seconds : 0;
}

// The mean of what a (count, sum) pair added in between; -1 when nothing was added.
double mean_between(int64_t count_before, double sum_before, int64_t count_after,
                    double sum_after) {
  int64_t count = count_after - count_before;
  if (count <= 0 || sum_after < sum_before) return -1;
  return (sum_after - sum_before) / static_cast<double>(count);
}

const TransportCounts* find_transport(const StatusDoc& doc, const std::string& name) {
  for (const TransportCounts& t : doc.transports) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

StatusRates compute_rates(const StatusDoc& before, const StatusDoc& after, double seconds) {
  StatusRates r;
  r.seconds = std::max(0.0, seconds);
  bool restarted = after.uptime_seconds < before.uptime_seconds;
  for (const TransportCounts& now : after.transports) {
    TransportCounts then;
    if (const TransportCounts* found = find_transport(before, now.name); found && !restarted) {
      then = *found;
    }
    r.transports.push_back({now.name, per_second(then.received, now.received, r.seconds),
                            per_second(then.accepted, now.accepted, r.seconds),
                            per_second(then.rejected, now.rejected, r.seconds)});
  }
  if (restarted || r.seconds <= 0) return r;
  r.delivered = per_second(before.records_delivered, after.records_delivered, r.seconds);
  r.delivery_errors = per_second(before.delivery_errors, after.delivery_errors, r.seconds);
  r.delivery_latency_mean_s =
      mean_between(before.delivery_latency_count, before.delivery_latency_seconds_sum,
                   after.delivery_latency_count, after.delivery_latency_seconds_sum);
  r.commits = per_second(before.commit_count, after.commit_count, r.seconds);
  r.commit_mean_s = mean_between(before.commit_count, before.commit_seconds_sum,
                                 after.commit_count, after.commit_seconds_sum);
  r.dead_letters_added = increase(before.dead_letters + before.dead_letters_evicted,
                                  after.dead_letters + after.dead_letters_evicted);
  r.outbox_records =
      static_cast<double>(after.outbox_records - before.outbox_records) / r.seconds;
  // From an empty outbox to one record the age jumps by the window's wait: no trend to show.
  if (before.outbox_records > 0 && after.outbox_records > 0) {
    r.outbox_oldest_age =
        (after.outbox_oldest_age_seconds - before.outbox_oldest_age_seconds) / r.seconds;
  }
  return r;
}

void Judgement::add(Verdict level, std::string problem) {
  verdict = std::max(verdict, level);
  problems.push_back(std::move(problem));
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kHealthy: return "healthy";
    case Verdict::kDegraded: return "degraded";
    case Verdict::kDown: return "down";
  }
  return "down";
}

double buffer_percent(int64_t bytes, int64_t limit_bytes) {
  if (limit_bytes <= 0) return -1;
  return 100.0 * static_cast<double>(bytes) / static_cast<double>(limit_bytes);
}

Judgement judge_status(const StatusDoc& before, const StatusDoc& after) {
  Judgement j;
  if (!after.healthy) {
    j.add(Verdict::kDown,
          "unhealthy" + (after.health_reason.empty() ? "" : ": " + after.health_reason));
  }
  if (!after.broker_connected) j.add(Verdict::kDegraded, "broker unreachable");
  double percent = buffer_percent(after.buffer_bytes, after.buffer_limit_bytes);
  if (percent > kBufferDegradedPercent) {
    j.add(Verdict::kDegraded, fmt::format("buffer {:.0f} % full", percent));
  }
  bool same_run = after.uptime_seconds >= before.uptime_seconds;
  int64_t added = increase(before.dead_letters + before.dead_letters_evicted,
                           after.dead_letters + after.dead_letters_evicted);
  if (same_run && added > 0) j.add(Verdict::kDegraded, fmt::format("{} new dead letters", added));
  if (!after.ready) {
    j.add(Verdict::kDegraded,
          "not ready" + (after.ready_reason.empty() ? "" : ": " + after.ready_reason));
  }
  return j;
}

}  // namespace meterd
