// CloudEvents decoding: the accepted payload forms and one test per kind of invalid event.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/decode/cloudevent_decoder.h"

using namespace meterd;

namespace {

struct Collected : EventSink {
  struct Event {
    std::string id, source, type, subject;
    int64_t time_ms;
    bool has_data;
  };
  std::vector<Event> events;
  std::vector<std::string> errors;  // "index|field|reason"
  void on_event(const CloudEvent& e) override {
    events.push_back({std::string(e.id), std::string(e.source), std::string(e.type),
                      std::string(e.subject), e.time_ms, e.has_data});
  }
  void on_invalid(size_t index, std::string_view field, std::string_view reason,
                  std::string_view) override {
    errors.push_back(std::to_string(index) + "|" + std::string(field) + "|" + std::string(reason));
  }
};

Collected decode(const std::string& payload) {
  Collected sink;
  CloudEventDecoder decoder;
  decoder.decode(payload, false, 1000, sink);
  return sink;
}

std::string event(const std::string& id, const std::string& extra = "") {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"app","type":"prompt","subject":"c1")" + extra + "}";
}

}  // namespace

TEST_CASE("decoder reads one event with time and data") {
  auto got = decode(event("a", R"(,"time":"2023-01-01T00:01:00Z","data":{"tokens":5})"));
  REQUIRE(got.errors.empty());
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].id == "a");
  CHECK(got.events[0].subject == "c1");
  CHECK(got.events[0].time_ms == 1672531260000);
  CHECK(got.events[0].has_data);
}

TEST_CASE("decoder defaults time to the time of receipt") {
  auto got = decode(event("a"));
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].time_ms == 1000);
  CHECK_FALSE(got.events[0].has_data);
}

TEST_CASE("decoder reads a JSON array of events") {
  auto got = decode("[" + event("a") + "," + event("b") + "]");
  REQUIRE(got.events.size() == 2);
  CHECK(got.events[1].id == "b");
}

TEST_CASE("decoder reads newline-separated events and isolates a bad line") {
  auto got = decode(event("a") + "\n{broken\n" + event("c") + "\n");
  REQUIRE(got.events.size() == 2);
  CHECK(got.events[1].id == "c");
  REQUIRE(got.errors.size() == 1);
  CHECK(got.errors[0].rfind("1||invalid JSON", 0) == 0);
}

TEST_CASE("decoder names the field of each invalid event") {
  struct Case {
    std::string payload, expected;
  };
  std::vector<Case> cases = {
      {R"({"id":"a","source":"s","type":"t","subject":"c"})", "0|specversion|required"},
      {R"({"specversion":"0.3","id":"a","source":"s","type":"t","subject":"c"})",
       "0|specversion|must be \"1.0\""},
      {R"({"specversion":"1.0","source":"s","type":"t","subject":"c"})", "0|id|required"},
      {R"({"specversion":"1.0","id":"","source":"s","type":"t","subject":"c"})",
       "0|id|must not be empty"},
      {R"({"specversion":"1.0","id":"a","source":"s","type":"t","subject":7})",
       "0|subject|must be a string"},
      {R"({"specversion":"1.0","id":"a","source":"s","type":"t"})", "0|subject|required"},
      {event("a", R"(,"time":"tomorrow")"), "0|time|not an RFC 3339 timestamp"},
      {event("a", R"(,"data":[1,2])"), "0|data|must be a JSON object"},
      {"[1]", "0||an event must be a JSON object"},
  };
  for (const auto& c : cases) {
    INFO(c.payload);
    auto got = decode(c.payload);
    CHECK(got.events.empty());
    REQUIRE(got.errors.size() == 1);
    CHECK(got.errors[0] == c.expected);
  }
}

TEST_CASE("decoder refuses truncated JSON, empty payloads and invalid UTF-8") {
  CHECK(decode(event("a").substr(0, 20)).errors.size() == 1);
  CHECK(decode("   ").errors.size() == 1);
  auto got = decode(event("a\xff\xfe"));
  CHECK(got.events.empty());
  CHECK(got.errors.size() == 1);
}

TEST_CASE("decoder refuses two documents on one line") {
  auto got = decode(event("a") + " " + event("b"));
  CHECK(got.events.empty());
  REQUIRE(got.errors.size() == 1);
  CHECK(got.errors[0].rfind("0||invalid JSON", 0) == 0);
}

TEST_CASE("decoder reads an escaped envelope key, and times shared by several events") {
  // The last time parsed is remembered: a different time after it must still be read anew.
  std::string first = R"(,"time":"2023-01-01T00:01:00Z")";
  std::string other = R"(,"time":"2023-01-01T00:02:00Z")";
  auto got = decode(R"([{"specversion":"1.0","\u0069d":"x","source":"s","type":"t","subject":"c")" +
                    first + "}," + event("b", first) + "," + event("c", other) + "," +
                    event("d", first) + "]");
  REQUIRE(got.errors.empty());
  REQUIRE(got.events.size() == 4);
  CHECK(got.events[0].id == "x");
  CHECK(got.events[1].time_ms == 1672531260000);
  CHECK(got.events[2].time_ms == 1672531320000);
  CHECK(got.events[3].time_ms == 1672531260000);
}

TEST_CASE("decoder tells keys of one length apart") {
  // "type"/"time"/"data" and "source"/"sourc3" share lengths: a lookalike is not the field.
  auto got = decode(R"({"specversion":"1.0","id":"a","sourc3":"s","tipe":"t","subject":"c"})");
  CHECK(got.errors == std::vector<std::string>{"0|source|required"});
}
