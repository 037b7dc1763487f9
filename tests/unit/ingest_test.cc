// Window assignment and rejection in the ingest pipeline.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "agent/ingest/ingest.h"
#include "buffer/identity/series_identity.h"

using namespace meterd;

namespace {

Config config_with_sum_meter() {
  Config config;
  MeterConfig meter;
  meter.slug = "tokens";
  meter.event_type = "prompt";
  meter.aggregation = Aggregation::kSum;
  meter.value_property.emplace();
  std::string why;
  REQUIRE(JsonPath::compile("$.tokens", &*meter.value_property, &why));
  config.meters.push_back(meter);
  return config;
}

std::string event(const std::string& time, int tokens, const std::string& type = "prompt") {
  return R"({"specversion":"1.0","id":"1","source":"s","type":")" + type +
         R"(","subject":"c1","time":")" + time + R"(","data":{"tokens":)" +
         std::to_string(tokens) + "}}";
}

// window start → (count, sum)
std::map<int64_t, std::pair<int64_t, double>> windows_of(const CommitBatch& batch) {
  std::map<int64_t, std::pair<int64_t, double>> out;
  batch.deltas.for_each([&](std::string_view, int64_t start, const Accumulator& acc) {
    out[start] = {acc.event_count, acc.value_sum};
  });
  return out;
}

constexpr int64_t kNow = 1672531320000;  // 2023-01-01T00:02:00Z

void feed(Ingest& ingest, const std::string& bytes, const char* listener,
          bool acknowledged = false, AcceptResult* result = nullptr) {
  ingest.accept(Payload{bytes, false, listener, kNow, acknowledged}, result);
}

}  // namespace

TEST_CASE("events go to one-minute windows aligned to UTC, by event time") {
  Config config = config_with_sum_meter();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  feed(ingest, event("2023-01-01T00:01:00Z", 1), "test");
  feed(ingest, event("2023-01-01T00:01:59.999Z", 2), "test");
  feed(ingest, event("2023-01-01T00:02:00Z", 4), "test");
  feed(ingest, event("2023-01-01T00:00:30+00:00", 8), "test");
  auto windows = windows_of(ingest.take_batch());
  REQUIRE(windows.size() == 3);
  CHECK(windows[1672531200] == std::pair<int64_t, double>{1, 8});
  CHECK(windows[1672531260] == std::pair<int64_t, double>{2, 3});
  CHECK(windows[1672531320] == std::pair<int64_t, double>{1, 4});
  CHECK(ingest.take_batch().empty());
}

TEST_CASE("five-minute windows align to multiples of five minutes") {
  Config config = config_with_sum_meter();
  config.windows.size_s = 300;
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  feed(ingest, event("2023-01-01T00:04:59Z", 1), "test");
  feed(ingest, event("2023-01-01T00:05:00Z", 1), "test");
  auto windows = windows_of(ingest.take_batch());
  CHECK(windows.count(1672531200) == 1);
  CHECK(windows.count(1672531500) == 1);
}

TEST_CASE("too old, too far ahead and valueless events become dead letters") {
  Config config = config_with_sum_meter();
  config.windows.max_lateness_ms = 60'000;
  config.windows.max_future_ms = 60'000;
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  feed(ingest, event("2023-01-01T00:00:59Z", 1), "udp");   // 61 s old
  feed(ingest, event("2023-01-01T00:03:01Z", 1), "udp");   // 61 s ahead
  feed(ingest, R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c"})",
       "udp");
  feed(ingest, event("2023-01-01T00:01:30Z", 1, "unknown"), "udp");
  feed(ingest, "not json", "udp");
  CommitBatch batch = ingest.take_batch();
  CHECK(batch.deltas.empty());
  REQUIRE(batch.dead_letters.size() == 4);
  CHECK(batch.dead_letters[0].reason == "event 0: time: older than max_lateness");
  CHECK(batch.dead_letters[1].reason == "event 0: time: further ahead than max_future");
  CHECK(batch.dead_letters[2].reason == "event 0: data: meter tokens: value missing at $.tokens");
  CHECK(batch.dead_letters[3].reason.rfind("event 0: invalid JSON", 0) == 0);
  CHECK(batch.dead_letters[3].raw == "not json");
  CHECK(batch.dead_letters[0].listener == "udp");
  CHECK(ingest.counters().events_unmatched == 1);
  CHECK(ingest.counters().events_rejected == 4);
}

TEST_CASE("acknowledged payloads report each invalid event and keep valid ones keyed") {
  Config config = config_with_sum_meter();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  AcceptResult result;
  std::string body = "[" + event("2023-01-01T00:01:00Z", 3) + R"(,{"specversion":"1.0"},)" +
                     event("2023-01-01T00:01:10Z", 4) + "]";
  feed(ingest, body, "http", true, &result);
  CHECK(result.events == 3);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].index == 1);
  CHECK(result.errors[0].field == "id");
  CHECK(result.errors[0].reason == "required");
  uint64_t generation = result.generation;
  CommitBatch batch = ingest.take_batch();
  CHECK(batch.generation == generation);
  CHECK(batch.deltas.empty());  // acknowledged events wait for the store's dedup
  CHECK(batch.keyed.events() == 2);
  CHECK(ingest.take_batch().generation == generation + 1);
}

TEST_CASE("an acknowledged event without a time is keyed by (source, id) alone") {
  Config config = config_with_sum_meter();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  std::string timeless =
      R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c1","data":{"tokens":2}})";
  ingest.accept(Payload{timeless, false, "http", kNow, true}, nullptr);
  ingest.accept(Payload{timeless, false, "http", kNow + 1500, true}, nullptr);  // a resend
  ingest.accept(Payload{event("2023-01-01T00:01:00Z", 2), false, "http", kNow, true}, nullptr);
  std::vector<DedupKey> keys;
  bool failed = false;
  WindowTable admitted;
  ingest.take_batch().keyed.merge_admitted(
      [&](const DedupKey& key, bool*) { keys.push_back(key); return true; }, &admitted, &failed);
  REQUIRE(keys.size() == 3);
  CHECK(keys[0] == keys[1]);
  CHECK(keys[0] == dedup_key("s", "1", 0));
  CHECK(keys[2] == dedup_key("s", "1", 1672531260000));
}

TEST_CASE("a msgpack map is decoded like the same event in JSON") {
  Config config = config_with_sum_meter();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  // {"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c1",
  //  "time":"2023-01-01T00:01:00Z","data":{"tokens":7}} packed by hand.
  std::string packed = "\x87";
  auto str = [&](const std::string& text) {
    packed += static_cast<char>(0xa0 | text.size());
    packed += text;
  };
  str("specversion"); str("1.0"); str("id"); str("1"); str("source"); str("s");
  str("type"); str("prompt"); str("subject"); str("c1");
  str("time"); str("2023-01-01T00:01:00Z");
  str("data"); packed += "\x81"; str("tokens"); packed += "\x07";
  feed(ingest, packed, "udp");
  feed(ingest, "\x81\xc1", "udp");  // 0xc1 is never used in msgpack
  auto batch = ingest.take_batch();
  auto windows = windows_of(batch);
  CHECK(windows[1672531260] == std::pair<int64_t, double>{1, 7});
  REQUIRE(batch.dead_letters.size() == 1);
  CHECK(batch.dead_letters[0].reason.find("msgpack") != std::string::npos);
}

TEST_CASE("fifteen-minute and one-hour windows align to UTC quarter hours and hours") {
  for (auto [size_s, time, start] : std::vector<std::tuple<int64_t, const char*, int64_t>>{
           {900, "2023-01-01T00:14:59.999Z", 1672531200},
           {900, "2023-01-01T00:15:00Z", 1672532100},
           {3600, "2023-01-01T00:59:59Z", 1672531200},
           {3600, "2023-01-01T01:30:00+01:00", 1672531200}}) {  // 00:30 UTC
    Config config = config_with_sum_meter();
    config.windows.size_s = size_s;
    config.windows.max_future_ms = 3'600'000;
    MeterSet meters(config.meters);
    Ingest ingest(config, meters);
    feed(ingest, event(time, 1), "test");
    auto windows = windows_of(ingest.take_batch());
    INFO(time);
    CHECK(windows.count(start) == 1);
  }
}

TEST_CASE("events beyond a meter's cardinality limit become counted dead letters") {
  Config config = config_with_sum_meter();
  config.meters[0].cardinality_limit = 1;
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  feed(ingest, event("2023-01-01T00:01:10Z", 1), "udp");
  std::string other = event("2023-01-01T00:01:20Z", 2);
  other.replace(other.find("\"c1\""), 4, "\"c2\"");
  feed(ingest, other, "udp");
  feed(ingest, event("2023-01-01T00:01:30Z", 4), "udp");  // c1 again: admitted
  CommitBatch batch = ingest.take_batch();
  CHECK(windows_of(batch)[1672531260] == std::pair<int64_t, double>{2, 5});
  REQUIRE(batch.dead_letters.size() == 1);
  CHECK(batch.dead_letters[0].reason ==
        "event 0: data: meter tokens: cardinality_limit: window 1672531260 already holds 1 series");
  CHECK(ingest.counters().events_over_cardinality == 1);
}

TEST_CASE("a subject and group values over 16 KiB are a dead letter: no record could carry them") {
  Config config = config_with_sum_meter();
  JsonPath model;
  std::string why;
  REQUIRE(JsonPath::compile("$.model", &model, &why));
  config.meters[0].group_by.emplace_back("model", model);
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  auto with = [](const std::string& subject, const std::string& model) {
    return R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":")" + subject +
           R"(","time":"2023-01-01T00:01:30Z","data":{"tokens":2,"model":")" + model + R"("}})";
  };
  std::string huge(16 * 1024, 'x');
  for (bool acknowledged : {false, true}) {
    feed(ingest, with(huge, "m"), "test", acknowledged);
    feed(ingest, with("c1", huge), "test", acknowledged);
    feed(ingest, with(huge.substr(0, 8 * 1024), huge.substr(0, 8 * 1024 - 100)), "test",
         acknowledged);  // just under the bound
  }
  CommitBatch batch = ingest.take_batch();
  REQUIRE(batch.dead_letters.size() == 4);
  for (const DeadLetter& letter : batch.dead_letters) {
    CHECK(letter.reason.find("meter tokens: subject and group values take") != std::string::npos);
    CHECK(letter.reason.find("at most 16384 bytes") != std::string::npos);
  }
  CHECK(windows_of(batch)[1672531260] == std::pair<int64_t, double>{1, 2});
  CHECK(batch.keyed.events() == 1);
  CHECK(ingest.counters().events_rejected == 4);
}

TEST_CASE("an identity over 16 KiB for one meter refuses the event for the type's other meters") {
  Config config = config_with_sum_meter();  // "tokens": no groupBy
  MeterConfig by_model = config.meters[0];
  by_model.slug = "tokens_by_model";
  JsonPath model;
  std::string why;
  REQUIRE(JsonPath::compile("$.model", &model, &why));
  by_model.group_by.emplace_back("model", model);
  config.meters.push_back(by_model);
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  std::string huge_model(16 * 1024, 'm');
  std::string body = R"({"specversion":"1.0","id":"1","source":"s","type":"prompt","subject":"c1",)"
                     R"("time":"2023-01-01T00:01:30Z","data":{"tokens":2,"model":")" +
                     huge_model + R"("}})";
  for (int i = 0; i < 3; ++i) feed(ingest, body, "udp");  // the later ones meet the key cache
  CHECK(ingest.cached_series_keys() == 1);
  CommitBatch batch = ingest.take_batch();
  REQUIRE(batch.dead_letters.size() == 3);
  for (const DeadLetter& letter : batch.dead_letters) {
    CHECK(letter.reason.find("meter tokens_by_model: subject and group values take") !=
          std::string::npos);
  }
  CHECK(batch.deltas.empty());  // an event is taken by all its meters or by none
  CHECK(ingest.counters().events_rejected == 3);
}
