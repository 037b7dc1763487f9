// Meter value and group extraction, the way OpenMeter reads them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/meters/meter_set.h"
#include "buffer/identity/series_identity.h"

using namespace meterd;

namespace {

MeterConfig meter(Aggregation aggregation, const char* value_path,
                  std::vector<std::pair<std::string, std::string>> groups = {}) {
  MeterConfig config;
  config.slug = "m";
  config.event_type = "prompt";
  config.aggregation = aggregation;
  std::string why;
  if (value_path) {
    config.value_property.emplace();
    REQUIRE(JsonPath::compile(value_path, &*config.value_property, &why));
  }
  for (auto& [name, path] : groups) {
    JsonPath compiled;
    REQUIRE(JsonPath::compile(path, &compiled, &why));
    config.group_by.emplace_back(name, compiled);
  }
  return config;
}

// Decodes `data` into an event and hands it to `check`.
template <typename Check>
void with_event(const std::string& data, Check check) {
  struct Sink : EventSink {
    Check& check;
    explicit Sink(Check& c) : check(c) {}
    void on_event(const CloudEvent& e) override { check(e); }
    void on_invalid(size_t, std::string_view, std::string_view reason, std::string_view) override {
      FAIL(std::string(reason));
    }
  } sink(check);
  CloudEventDecoder decoder;
  decoder.decode(R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c1","data":)" +
                     data + "}",
                 false, 0, sink);
}

}  // namespace

TEST_CASE("meter values: numbers, numeric strings and nested paths") {
  Meter sum(meter(Aggregation::kSum, "$.usage.input"));
  for (auto [data, expected] : std::vector<std::pair<std::string, double>>{
           {R"({"usage":{"input":12}})", 12},
           {R"({"usage":{"input":-3}})", -3},
           {R"({"usage":{"input":2.5}})", 2.5},
           {R"({"usage":{"input":"42"}})", 42},
           {R"({"usage":{"input":"1e3"}})", 1000}}) {
    with_event(data, [&](const CloudEvent& e) {
      double value = 0;
      std::string reason;
      INFO(data);
      REQUIRE(sum.value(e, &value, &reason));
      CHECK(value == expected);
    });
  }
}

// Refused values, one case each: meter_values_test.cc.

TEST_CASE("COUNT meters count 1 per event without a value") {
  Meter count(meter(Aggregation::kCount, nullptr));
  with_event("{}", [&](const CloudEvent& e) {
    double value = 0;
    std::string reason;
    REQUIRE(count.value(e, &value, &reason));
    CHECK(value == 1);
  });
}

TEST_CASE("group values: strings, other scalars as JSON, missing as empty") {
  Meter m(meter(Aggregation::kSum, "$.t",
                {{"model", "$.model"}, {"n", "$.n"}, {"quoted", "$['a.b']"}, {"first", "$.l[0]"},
                 {"missing", "$.nope"}}));
  with_event(R"({"t":1,"model":"gpt-4","n":3,"a.b":"dot","l":["x","y"]})",
             [&](const CloudEvent& e) {
               SeriesIdentityWriter identity;
               std::string scratch;
               m.identity(e, &identity, &scratch);
               SeriesParts parts;
               REQUIRE(decode_series(identity.view(), &parts));
               CHECK(parts.meter == "m");
               CHECK(parts.subject == "c1");
               REQUIRE(parts.groups.size() == 5);
               CHECK(parts.groups[0] == std::pair<std::string, std::string>{"model", "gpt-4"});
               CHECK(parts.groups[1].second == "3");
               CHECK(parts.groups[2].second == "dot");
               CHECK(parts.groups[3].second == "x");
               CHECK(parts.groups[4].second == "");
             });
}

TEST_CASE("meter set matches every meter of an event type") {
  MeterConfig a = meter(Aggregation::kSum, "$.t");
  MeterConfig b = meter(Aggregation::kCount, nullptr);
  b.slug = "n";
  MeterConfig other = meter(Aggregation::kCount, nullptr);
  other.slug = "o";
  other.event_type = "other";
  MeterSet set({a, b, other});
  CHECK(set.for_type("prompt").meters.size() == 2);
  CHECK(set.for_type("other").meters.size() == 1);
  CHECK(set.for_type("nothing").meters.empty());
}

TEST_CASE("a type's series key spans its meters' groupBy paths once each, UNIQUE_COUNT aside") {
  MeterConfig a = meter(Aggregation::kSum, "$.t", {{"model", "$.model"}, {"region", "$.region"}});
  MeterConfig b = meter(Aggregation::kMax, "$.t", {{"m", "$.model"}, {"user", "$.user"}});
  b.slug = "b";
  MeterConfig distinct = meter(Aggregation::kUniqueCount, "$.user", {{"team", "$.team"}});
  distinct.slug = "d";
  distinct.event_type = "other";
  MeterSet set({a, b, distinct});

  const TypeMeters& prompt = set.for_type("prompt");
  std::vector<std::string> paths;
  for (const JsonPath* path : prompt.group_paths) paths.push_back(path->text());
  CHECK(paths == std::vector<std::string>{"$.model", "$.region", "$.user"});  // $.model once
  CHECK(prompt.has_series_key);
  std::string prefix;
  append_field(&prefix, "prompt");
  CHECK(prompt.key_prefix == prefix);

  const TypeMeters& other = set.for_type("other");  // UNIQUE_COUNT only: no series key
  CHECK_FALSE(other.has_series_key);
  CHECK(other.group_paths.empty());
}
