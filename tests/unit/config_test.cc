// Config loading: a full valid config, defaults, and every error reported at once with lines.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/config/config.h"

using namespace meterd;

namespace {

const char* kValid = R"(agent_id: edge-1
listeners:
  udp: 127.0.0.1:7701
buffer:
  path: /tmp/x.db
  commit_interval: 200ms
windows:
  size: 1m
  grace: 10s
kafka:
  brokers: 127.0.0.1:9092
  topic: meter-windows
  properties: {compression.type: lz4}
meters:
  - slug: tokens_total
    eventType: prompt
    aggregation: SUM
    valueProperty: $.tokens
    groupBy:
      model: $.model
      type: $.type
  - slug: calls
    eventType: prompt
    aggregation: COUNT
)";

bool contains(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("config loads every documented key") {
  Config config;
  std::vector<std::string> errors;
  REQUIRE(load_config_text(kValid, "test.yaml", &config, &errors));
  CHECK(config.agent_id == "edge-1");
  REQUIRE(config.listeners.udp);
  CHECK(config.listeners.udp->port == 7701);
  CHECK(config.buffer.commit_interval_ms == 200);
  CHECK(config.windows.size_s == 60);
  CHECK(config.windows.grace_ms == 10'000);
  CHECK(config.kafka.properties.at("compression.type") == "lz4");
  REQUIRE(config.meters.size() == 2);
  CHECK(config.meters[0].aggregation == Aggregation::kSum);
  REQUIRE(config.meters[0].group_by.size() == 2);
  CHECK(config.meters[0].group_by[0].first == "model");  // sorted by name
  CHECK(config.meters[1].aggregation == Aggregation::kCount);
  CHECK_FALSE(config.meters[1].value_property);
}

TEST_CASE("config reports all errors at once, with lines") {
  const char* bad = R"(listeners:
  udp: 127.0.0.1:notaport
buffer:
  commit_interval: soon
kafak: {}
meters:
  - slug: a
    eventType: prompt
    aggregation: SUM
  - slug: a
    eventType: prompt
    aggregation: COUNT
    valueProperty: $.x
  - slug: b
    eventType: prompt
    aggregation: MEDIAN
    valueProperty: tokens
    groupBy:
      9bad: $.m
)";
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(bad, "bad.yaml", &config, &errors));
  CHECK(contains(errors, "bad.yaml:2: listeners.udp: port must be"));
  CHECK(contains(errors, "bad.yaml:4: buffer.commit_interval: expected a positive duration"));
  CHECK(contains(errors, "bad.yaml:5: kafak: unknown key"));
  CHECK(contains(errors, "kafka: required"));
  CHECK(contains(errors, "meters[0].valueProperty: required for SUM"));
  CHECK(contains(errors, "bad.yaml:10: meters[1].slug: duplicate slug 'a'"));
  CHECK(contains(errors, "meters[1].valueProperty: must not be set for COUNT"));
  CHECK(contains(errors, "meters[2].aggregation: 'MEDIAN' is not supported"));
  CHECK(contains(errors, "meters[2].valueProperty: a path must start with '$'"));
  CHECK(contains(errors, "meters[2].groupBy.9bad: group names must match"));
  for (const auto& e : errors) UNSCOPED_INFO(e);
  CHECK(errors.size() == 10);
}

TEST_CASE("config refuses YAML syntax errors with a line") {
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text("meters: [\n  - a\n", "s.yaml", &config, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("s.yaml:", 0) == 0);
}

TEST_CASE("durations parse with units") {
  int64_t ms = 0;
  REQUIRE(parse_duration_ms("200ms", &ms));
  CHECK(ms == 200);
  REQUIRE(parse_duration_ms("7d", &ms));
  CHECK(ms == 7 * 86'400'000LL);
  CHECK_FALSE(parse_duration_ms("10", &ms));
  CHECK_FALSE(parse_duration_ms("s", &ms));
  CHECK_FALSE(parse_duration_ms("1.5s", &ms));
}
