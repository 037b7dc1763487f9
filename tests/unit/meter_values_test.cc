// Meter values at the edges, one behaviour per test: what becomes a number (and how exactly),
// and what becomes a dead letter with which reason (README "Values").
#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <string>

#include "agent/decode/cloudevent_decoder.h"
#include "agent/meters/meter_set.h"

using namespace meterd;

namespace {

MeterConfig meter_config(Aggregation aggregation) {
  MeterConfig config;
  config.slug = "m";
  config.event_type = "prompt";
  config.aggregation = aggregation;
  config.value_property.emplace();
  std::string why;
  REQUIRE(JsonPath::compile("$.v", &*config.value_property, &why));
  return config;
}

// What a meter of `aggregation` makes of `data`: the value (number or distinct text), or the
// dead-letter reason, or the decoder's reason when the event is not valid JSON at all.
struct Outcome {
  bool ok = false;
  double number = 0;
  std::string text;    // UNIQUE_COUNT's distinct value
  std::string reason;  // why not ok
};

// `data`: the event's whole data object.
Outcome outcome_of_data(const std::string& data, Aggregation aggregation) {
  struct Sink : EventSink {
    Meter meter;
    Outcome result;
    explicit Sink(const MeterConfig& c) : meter(c) {}
    void on_event(const CloudEvent& e) override {
      result.ok = meter.counts_distinct() ? meter.distinct_value(e, &result.text, &result.reason)
                                          : meter.value(e, &result.number, &result.reason);
    }
    void on_invalid(size_t, std::string_view, std::string_view reason, std::string_view) override {
      result.reason = std::string(reason);
    }
  } sink(meter_config(aggregation));
  CloudEventDecoder decoder;
  decoder.decode(R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c",)"
                 R"("data":)" + data + "}",
                 false, 0, sink);
  return sink.result;
}

// `value`: the JSON at $.v.
Outcome outcome(const std::string& value, Aggregation aggregation = Aggregation::kSum) {
  return outcome_of_data(R"({"v":)" + value + "}", aggregation);
}

double number(const std::string& data) {
  Outcome o = outcome(data);
  INFO(data << ": " << o.reason);
  REQUIRE(o.ok);
  return o.number;
}

std::string refused(const std::string& data, Aggregation aggregation = Aggregation::kSum) {
  Outcome o = outcome(data, aggregation);
  INFO(data);
  REQUIRE_FALSE(o.ok);
  return o.reason;
}

}  // namespace

TEST_CASE("value: JSON integers are exact up to 2^53") {
  CHECK(number("9007199254740992") == 9007199254740992.0);
  CHECK(number("-9007199254740992") == -9007199254740992.0);
  CHECK(number("0") == 0);
}

TEST_CASE("value: integers beyond 2^53 round to the nearest double") {
  CHECK(number("9007199254740993") == 9007199254740992.0);
  CHECK(number("18446744073709551615") == 18446744073709551616.0);
}

TEST_CASE("value: fractions and exponents are read as the nearest double") {
  CHECK(number("2.5") == 2.5);
  CHECK(number("0.1") == 0.1);
  CHECK(number("1e300") == 1e300);
  CHECK(number("-4E-2") == -0.04);
}

TEST_CASE("value: numeric strings are numbers, a leading '+' included, as in Go's ParseFloat") {
  CHECK(number(R"("42")") == 42);
  CHECK(number(R"("-1.5e3")") == -1500);
  CHECK(number(R"("+7")") == 7);
  CHECK(number(R"(".5")") == 0.5);
}

TEST_CASE("value: a string too small for a double reads as zero, as in Go") {
  CHECK(number(R"("1e-400")") == 0);
}

TEST_CASE("value: a string beyond the double range is a dead letter: overflow") {
  CHECK(refused(R"("1e400")") == "value overflows a double (beyond ±1.8e308)");
  CHECK(refused(R"("-1e400")") == "value overflows a double (beyond ±1.8e308)");
}

TEST_CASE("value: NaN is a dead letter") {
  CHECK(refused(R"("NaN")") == "value is NaN");
  CHECK(refused(R"("nan")") == "value is NaN");
}

TEST_CASE("value: infinities are dead letters") {
  CHECK(refused(R"("Infinity")") == "value is infinite");
  CHECK(refused(R"("-inf")") == "value is infinite");
}

TEST_CASE("value: a bare JSON number beyond the double range makes the event invalid JSON") {
  // simdjson refuses the whole document, so no meter sees the event; the reason says why.
  std::string reason = refused("1e400");
  CHECK(reason.rfind("invalid JSON: a number is malformed or out of range", 0) == 0);
  CHECK(refused("123456789012345678901234567890").rfind("invalid JSON: a number", 0) == 0);
}

TEST_CASE("value: booleans are dead letters") {
  CHECK(refused("true") == "value is a boolean, not a number");
}

TEST_CASE("value: null is a dead letter") { CHECK(refused("null") == "value is null"); }

TEST_CASE("value: objects and arrays are dead letters") {
  CHECK(refused(R"({"a":1})") == "value is an object, not a number");
  CHECK(refused("[1]") == "value is an array, not a number");
}

TEST_CASE("value: non-numeric, empty and padded strings are dead letters") {
  CHECK(refused(R"("ten")") == "value is a non-numeric string");
  CHECK(refused(R"("")") == "value is a non-numeric string");
  CHECK(refused(R"(" 1")") == "value is a non-numeric string");
  CHECK(refused(R"("1 ")") == "value is a non-numeric string");
  CHECK(refused(R"("0x10")") == "value is a non-numeric string");
}

TEST_CASE("value: a missing value is a dead letter naming the path") {
  CHECK(outcome_of_data(R"({"w":1})", Aggregation::kSum).reason == "value missing at $.v");
  CHECK(outcome_of_data("null", Aggregation::kMax).reason == "value missing at $.v");
  CHECK(outcome_of_data("{}", Aggregation::kUniqueCount).reason == "value missing at $.v");
}

TEST_CASE("UNIQUE_COUNT: strings are counted as they are") {
  Outcome o = outcome(R"("user-1")", Aggregation::kUniqueCount);
  REQUIRE(o.ok);
  CHECK(o.text == "user-1");
}

TEST_CASE("UNIQUE_COUNT: equal numbers are one value however written") {
  for (const char* data : {"1", "1.0", "1e0", "10E-1"}) {
    Outcome o = outcome(data, Aggregation::kUniqueCount);
    INFO(data);
    REQUIRE(o.ok);
    CHECK(o.text == "1");
  }
  CHECK(outcome("2.5", Aggregation::kUniqueCount).text == "2.5");
  CHECK(outcome("18446744073709551615", Aggregation::kUniqueCount).text ==
        "18446744073709551615");
  CHECK(outcome("-3", Aggregation::kUniqueCount).text == "-3");
}

TEST_CASE("UNIQUE_COUNT: booleans are values, null objects and arrays are dead letters") {
  CHECK(outcome("true", Aggregation::kUniqueCount).text == "true");
  CHECK(refused("null", Aggregation::kUniqueCount) == "value is null");
  CHECK(refused("{}", Aggregation::kUniqueCount) == "value is an object, not a number");
  CHECK(refused("[]", Aggregation::kUniqueCount) == "value is an array, not a number");
}

TEST_CASE("UNIQUE_COUNT: a value longer than 4096 bytes is a dead letter, not a huge record") {
  std::string longest(4096, 'u');
  CHECK(outcome("\"" + longest + "\"", Aggregation::kUniqueCount).text == longest);
  CHECK(refused("\"" + longest + "u\"", Aggregation::kUniqueCount) ==
        "value is 4097 bytes long; UNIQUE_COUNT counts values of at most 4096 bytes");
}
