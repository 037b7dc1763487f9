// Meter definitions validated as OpenMeter validates them, plus meterd's window keys: one
// behaviour per test, each with the documented error text.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/config/config.h"

using namespace meterd;

namespace {

constexpr const char* kHead = R"(listeners: {udp: "127.0.0.1:7701"}
kafka: {brokers: "127.0.0.1:9092"}
)";

// Loads a config made of kHead, `windows` (YAML, may be empty) and `meters` (YAML list).
std::vector<std::string> errors_of(const std::string& meters, const std::string& windows = "",
                                   Config* out = nullptr) {
  Config config;
  std::vector<std::string> errors;
  load_config_text(kHead + windows + "meters:\n" + meters, "t.yaml", &config, &errors);
  if (out) *out = config;
  return errors;
}

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("meter config: every OpenMeter aggregation is accepted, UNIQUE_COUNT included") {
  Config config;
  auto errors = errors_of(R"(
  - {slug: a, eventType: e, aggregation: SUM, valueProperty: $.v}
  - {slug: b, eventType: e, aggregation: COUNT}
  - {slug: c, eventType: e, aggregation: AVG, valueProperty: $.v}
  - {slug: d, eventType: e, aggregation: MIN, valueProperty: $.v}
  - {slug: f, eventType: e, aggregation: MAX, valueProperty: $.v}
  - {slug: g, eventType: e, aggregation: LATEST, valueProperty: $.v}
  - {slug: h, eventType: e, aggregation: UNIQUE_COUNT, valueProperty: $.user}
)", "", &config);
  CHECK(errors.empty());
  REQUIRE(config.meters.size() == 7);
  CHECK(config.meters[6].aggregation == Aggregation::kUniqueCount);
  CHECK(config.meters[6].value_property->text() == "$.user");
}

TEST_CASE("meter config: an unknown aggregation is refused") {
  CHECK(has(errors_of("  - {slug: a, eventType: e, aggregation: MEDIAN, valueProperty: $.v}\n"),
            "'MEDIAN' is not supported; use SUM, COUNT, AVG, MIN, MAX, LATEST or UNIQUE_COUNT"));
}

TEST_CASE("meter config: valueProperty is required for every aggregation but COUNT") {
  for (const char* aggregation : {"SUM", "AVG", "MIN", "MAX", "LATEST", "UNIQUE_COUNT"}) {
    INFO(aggregation);
    CHECK(has(errors_of(std::string("  - {slug: a, eventType: e, aggregation: ") + aggregation +
                        "}\n"),
              std::string("meters[0].valueProperty: required for ") + aggregation));
  }
}

TEST_CASE("meter config: valueProperty is refused for COUNT") {
  CHECK(has(errors_of("  - {slug: a, eventType: e, aggregation: COUNT, valueProperty: $.v}\n"),
            "meters[0].valueProperty: must not be set for COUNT"));
}

TEST_CASE("meter config: group names must match ^[a-zA-Z_][0-9a-zA-Z_]*$") {
  auto errors = errors_of(R"(  - slug: a
    eventType: e
    aggregation: COUNT
    groupBy: {ok_1: $.a, _x: $.b, 1bad: $.c, has-dash: $.d, "dot.ted": $.e}
)");
  CHECK(errors.size() == 3);
  CHECK(has(errors, "groupBy.1bad: group names must match"));
  CHECK(has(errors, "groupBy.has-dash: group names must match"));
  CHECK(has(errors, "groupBy.dot.ted: group names must match"));
}

TEST_CASE("meter config: valueProperty and groupBy paths must start with $") {
  auto errors = errors_of(R"(  - slug: a
    eventType: e
    aggregation: SUM
    valueProperty: tokens
    groupBy: {m: model}
)");
  CHECK(has(errors, "meters[0].valueProperty: a path must start with '$'"));
  CHECK(has(errors, "meters[0].groupBy.m: a path must start with '$'"));
}

TEST_CASE("meter config: duplicate slugs are refused") {
  CHECK(has(errors_of(R"(
  - {slug: a, eventType: e, aggregation: COUNT}
  - {slug: a, eventType: f, aggregation: COUNT}
)"),
            "meters[1].slug: duplicate slug 'a'"));
}

TEST_CASE("meter config: cardinalityLimit is per meter, a positive whole number") {
  Config config;
  CHECK(errors_of("  - {slug: a, eventType: e, aggregation: COUNT, cardinalityLimit: 50}\n", "",
                  &config)
            .empty());
  CHECK(config.meters[0].cardinality_limit == 50);
  CHECK(has(errors_of("  - {slug: a, eventType: e, aggregation: COUNT, cardinalityLimit: 0}\n"),
            "meters[0].cardinalityLimit: expected a positive whole number"));
}

TEST_CASE("window config: sizes 1m 5m 15m 1h, series bound and partials") {
  Config config;
  CHECK(errors_of("  - {slug: a, eventType: e, aggregation: COUNT}\n",
                  "windows: {size: 15m, max_series_per_meter: 7, partials_every: 10s}\n", &config)
            .empty());
  CHECK(config.windows.size_s == 900);
  CHECK(config.windows.max_series_per_meter == 7);
  CHECK(config.windows.partials_every_ms == 10'000);
  CHECK(config.windows.max_lateness_ms == 7 * 86'400'000LL);
  CHECK(config.windows.max_future_ms == 300'000);
  CHECK(has(errors_of("  - {slug: a, eventType: e, aggregation: COUNT}\n", "windows: {size: 2m}\n"),
            "windows.size: must be 1m, 5m, 15m or 1h"));
  CHECK(has(errors_of("  - {slug: a, eventType: e, aggregation: COUNT}\n",
                      "windows: {max_series_per_meter: -1}\n"),
            "windows.max_series_per_meter: expected a positive whole number"));
}

TEST_CASE("window config: defaults without a windows section") {
  Config config;
  CHECK(errors_of("  - {slug: a, eventType: e, aggregation: COUNT}\n", "", &config).empty());
  CHECK(config.windows.size_s == 60);
  CHECK(config.windows.max_series_per_meter == 100'000);
  CHECK(config.windows.partials_every_ms == 0);
}
