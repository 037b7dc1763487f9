// The admin endpoints' verdicts and documents from snapshots made by hand: health by the loops'
// ticks, readiness by draining and the buffer's fill, the metric families' names and labels as
// README lists them, and /status as valid JSON with every key.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include <prometheus/text_serializer.h>

#include "agent/admin/agent_metrics.h"
#include "agent/admin/probes.h"
#include "agent/admin/status_json.h"

using namespace meterd;

namespace {

AdminSources sources_at(int64_t start_ms) {
  AdminSources sources;
  sources.version = "9.9.9";
  sources.agent_id = "agent \"one\"\n";
  sources.commit_interval_ms = 200;
  sources.max_size_bytes = 1000;
  sources.start_steady_ms = start_ms;
  return sources;
}

AgentSnapshot fresh_snapshot(int64_t now_ms) {
  AgentSnapshot s;
  s.now_steady_ms = now_ms;
  s.now_unix_ms = 1'700'000'000'000;
  s.ingest.tick_steady_ms = now_ms - 100;
  s.store.tick_steady_ms = now_ms - 100;
  s.uplink.last_tick_steady_ms = now_ms - 50;
  return s;
}

}  // namespace

TEST_CASE("health: each loop must tick within 10 commit intervals (at least a second)") {
  AdminSources sources = sources_at(0);
  AgentSnapshot s = fresh_snapshot(100'000);
  CHECK(judge_health(s, sources).healthy);

  s.store.tick_steady_ms = 100'000 - 2'100;  // 10 intervals are 2 s
  Health stalled = judge_health(s, sources);
  CHECK_FALSE(stalled.healthy);
  CHECK(stalled.reason.find("store") != std::string::npos);
  CHECK(stalled.reason.find("ingest") == std::string::npos);

  s.draining = true;  // the loops stop on purpose during the drain
  CHECK(judge_health(s, sources).healthy);

  sources.commit_interval_ms = 10;  // 10 intervals = 0.1 s, but never under a second
  s = fresh_snapshot(100'000);
  s.ingest.tick_steady_ms = 100'000 - 900;
  CHECK(judge_health(s, sources).healthy);
}

TEST_CASE("health: a loop that has not ticked yet counts from start-up") {
  AdminSources sources = sources_at(99'500);
  AgentSnapshot s = fresh_snapshot(100'000);
  s.uplink.last_tick_steady_ms = 0;
  CHECK(judge_health(s, sources).healthy);
  sources.start_steady_ms = 90'000;
  CHECK_FALSE(judge_health(s, sources).healthy);
}

TEST_CASE("readiness: not while draining or with the buffer full; a broker outage is fine") {
  AdminSources sources = sources_at(0);
  AgentSnapshot s = fresh_snapshot(1'000);
  s.uplink.broker_connected = false;
  CHECK(judge_readiness(s, sources).ready);
  s.buffer_usage_bytes = 1000;
  Readiness full = judge_readiness(s, sources);
  CHECK_FALSE(full.ready);
  CHECK(full.reason.find("full") != std::string::npos);
  s.buffer_usage_bytes = 999;
  CHECK(judge_readiness(s, sources).ready);
  s.draining = true;
  CHECK(judge_readiness(s, sources).reason.find("draining") != std::string::npos);
}

TEST_CASE("metrics: the README's names, bounded labels, counts from the snapshot") {
  AdminSources sources = sources_at(0);
  AgentSnapshot s = fresh_snapshot(1'000);
  s.ingest.counters.transports[static_cast<size_t>(Transport::kHttp)].received = 7;
  s.ingest.counters.transports[static_cast<size_t>(Transport::kHttp)]
      .rejected[static_cast<size_t>(RejectReason::kLate)] = 2;
  s.store.accepted[static_cast<size_t>(Transport::kHttp)] = 5;
  s.store.refused[static_cast<size_t>(Transport::kUdp)] = 3;
  s.store.commit_seconds.observe(0.003);
  s.uplink.broker_connected = true;
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, metric_families(s, sources));
  std::string out = text.str();
  for (const char* line : {
           "meterd_events_received_total{transport=\"http\"} 7",
           "meterd_events_accepted_total{transport=\"http\"} 5",
           "meterd_events_rejected_total{reason=\"late\",transport=\"http\"} 2",
           "meterd_events_rejected_total{reason=\"buffer_full\",transport=\"udp\"} 3",
           "meterd_commit_duration_seconds_bucket{le=\"0.005\"} 1",
           "meterd_commit_duration_seconds_count 1",
           "meterd_broker_connected 1",
           "meterd_build_info{version=\"9.9.9\"} 1",
           "meterd_buffer_limit_bytes 1000",
       }) {
    INFO(line);
    CHECK(out.find(line) != std::string::npos);
  }
  std::set<std::string> names;
  for (const auto& family : metric_families(s, sources)) names.insert(family.name);
  for (const char* name :
       {"meterd_events_deduplicated_total", "meterd_datagrams_dropped_total", "meterd_dead_letters",
        "meterd_dead_letters_evicted_total", "meterd_windows_open", "meterd_series_active",
        "meterd_commit_failures_total", "meterd_buffer_size_bytes", "meterd_outbox_records",
        "meterd_outbox_oldest_age_seconds", "meterd_records_produced_total",
        "meterd_records_delivered_total", "meterd_delivery_errors_total",
        "meterd_delivery_latency_seconds", "meterd_records_coarsened_total",
        "meterd_buffer_recoveries_total", "process_resident_memory_bytes",
        "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"}) {
    INFO(name);
    CHECK(names.count(name) == 1);
  }
}

TEST_CASE("/status is one JSON object with every key, strings escaped") {
  AdminSources sources = sources_at(0);
  AgentSnapshot s = fresh_snapshot(1'000);
  s.uplink.last_error = "broker said \"no\"\x01";
  s.buffer.outbox_records = 4;
  s.buffer.outbox_oldest_window_end_ms = s.now_unix_ms - 90'000;
  std::string text = status_json(s, sources, judge_health(s, sources), judge_readiness(s, sources));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(text).get(doc) == simdjson::SUCCESS);
  CHECK(std::string(doc["agent_id"].get_string().value()) == "agent \"one\"\n");
  CHECK(std::string(doc["uplink"]["last_error"].get_string().value()) ==
        "broker said \"no\"\x01");
  CHECK(doc["buffer"]["outbox_records"].get_int64().value() == 4);
  CHECK(doc["buffer"]["outbox_oldest_age_seconds"].get_double().value() == Approx(90));
  CHECK(doc["health"]["healthy"].get_bool().value());
  CHECK(doc["ready"]["ready"].get_bool().value());
  for (std::string_view transport : kTransportNames) {
    CHECK(doc["events"]["received"][transport].get_int64().value() == 0);
    CHECK(doc["events"]["rejected"][transport]["buffer_full"].get_int64().value() == 0);
  }
  CHECK(doc["commit"]["count"].get_int64().value() == 0);
}
