// An event is accepted by every meter it matches or by none (ingest.h): a refusal by one meter
// leaves no contribution in any other, no dedup key and no series in the cardinality bound; and
// no event may make a window's sum non-finite.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "agent/ingest/ingest.h"
#include "buffer/identity/series_identity.h"

using namespace meterd;

namespace {

constexpr int64_t kNow = 1672531320000;     // 2023-01-01T00:02:00Z
constexpr int64_t kWindow = 1672531260;     // the window of the events' time, 00:01
const char* kNonFinite = "value would make the window's sum non-finite (beyond ±1.8e308)";

MeterConfig meter(const std::string& slug, Aggregation aggregation, const char* value_path,
                  std::vector<std::string> groups = {}) {
  MeterConfig m;
  m.slug = slug;
  m.event_type = "prompt";
  m.aggregation = aggregation;
  std::string why;
  if (value_path) {
    m.value_property.emplace();
    REQUIRE(JsonPath::compile(value_path, &*m.value_property, &why));
  }
  for (const std::string& group : groups) {  // given sorted by name, as the config sorts them
    JsonPath path;
    REQUIRE(JsonPath::compile("$." + group, &path, &why));
    m.group_by.emplace_back(group, path);
  }
  return m;
}

// The integration tests' meters: SUM tokens_total and COUNT prompts of "prompt" events.
Config sum_and_count() {
  Config config;
  config.meters = {meter("tokens_total", Aggregation::kSum, "$.tokens"),
                   meter("prompts", Aggregation::kCount, nullptr)};
  return config;
}

// A prompt event at 00:01:30 with `data` as given (JSON text of the object's members).
std::string event(const std::string& data, const std::string& id = "1",
                  const std::string& subject = "c1") {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"s","type":"prompt","subject":")" +
         subject + R"(","time":"2023-01-01T00:01:30Z","data":{)" + data + "}}";
}

// (meter slug, subject) → (count, sum) of the kWindow entries of a table.
using Totals = std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>>;

Totals totals_of(const WindowTable& table) {
  Totals out;
  table.for_each([&](std::string_view identity, int64_t start, const Accumulator& acc) {
    SeriesParts parts;
    REQUIRE(decode_series(identity, &parts));
    CHECK(start == kWindow);
    auto& [count, sum] = out[{parts.meter, parts.subject}];
    count += acc.event_count;
    sum += acc.value_sum;
  });
  return out;
}

// What the store would merge of the acknowledged events: every one admitted, unless its dedup
// key is in `duplicates`.
Totals keyed_totals(const CommitBatch& batch, const std::vector<DedupKey>& duplicates = {}) {
  WindowTable admitted;
  bool failed = false;
  batch.keyed.merge_admitted(
      [&](const DedupKey& key, bool*) {
        for (const DedupKey& duplicate : duplicates) {
          if (key == duplicate) return false;
        }
        return true;
      },
      &admitted, &failed);
  REQUIRE_FALSE(failed);
  return totals_of(admitted);
}

void feed(Ingest& ingest, const std::string& bytes, bool acknowledged,
          AcceptResult* result = nullptr) {
  ingest.accept(Payload{bytes, false, acknowledged ? "http" : "udp", kNow, acknowledged}, result);
}

// Events fed to a fresh Ingest, and what came out.
struct Outcome {
  CommitBatch batch;
  Totals totals;  // of the delta table or, for acknowledged events, of what the store admits
  std::vector<EventError> errors;
  int64_t rejected = 0;
  int64_t accepted = 0;
  int64_t over_cardinality = 0;
};

Outcome run(const Config& config, const std::vector<std::string>& payloads, bool acknowledged) {
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  Outcome out;
  for (const std::string& payload : payloads) {
    AcceptResult result;
    feed(ingest, payload, acknowledged, &result);
    for (EventError& error : result.errors) out.errors.push_back(std::move(error));
  }
  out.batch = ingest.take_batch();
  out.totals = acknowledged ? keyed_totals(out.batch) : totals_of(out.batch.deltas);
  out.rejected = ingest.counters().events_rejected;
  out.accepted = ingest.counters().events_accepted;
  out.over_cardinality = ingest.counters().events_over_cardinality;
  return out;
}

const char* transport(bool acknowledged) { return acknowledged ? "acknowledged" : "datagram"; }

}  // namespace

TEST_CASE("an event one meter refuses counts for none of its meters", "[atomic]") {
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    Outcome out = run(sum_and_count(), {event(R"("tokens":"12O")")}, acknowledged);
    CHECK(out.totals.empty());
    CHECK(out.batch.deltas.empty());
    CHECK(out.batch.keyed.empty());  // no dedup key either: a fixed resend is a new event
    REQUIRE(out.batch.dead_letters.size() == 1);
    CHECK(out.batch.dead_letters[0].reason ==
          "event 0: data: meter tokens_total: value is a non-numeric string");
    CHECK(out.batch.events == 0);
    CHECK(out.rejected == 1);
    CHECK(out.accepted == 0);
  }
}

TEST_CASE("a refused event then resent fixed under the same id counts once, in full",
          "[atomic]") {
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    Outcome out = run(sum_and_count(), {event(R"("tokens":"12O")"), event(R"("tokens":"120")")},
                      acknowledged);
    CHECK(out.totals == Totals{{{"tokens_total", "c1"}, {1, 120}}, {{"prompts", "c1"}, {1, 1}}});
    if (acknowledged) {
      REQUIRE(out.errors.size() == 1);
      CHECK(out.errors[0].index == 0);
      CHECK(out.errors[0].field == "data");
      CHECK(out.errors[0].reason == "meter tokens_total: value is a non-numeric string");
      CHECK(out.batch.keyed.events() == 1);
    }
  }
}

TEST_CASE("a refused event of a series already in the interval adds nothing to its entries",
          "[atomic]") {
  // The second event meets the series-key cache, which knows both meters' entries.
  Outcome out = run(sum_and_count(),
                    {event(R"("tokens":5)"), event(R"("tokens":true)"), event(R"("tokens":7)")},
                    false);
  CHECK(out.totals == Totals{{{"tokens_total", "c1"}, {2, 12}}, {{"prompts", "c1"}, {2, 2}}});
  REQUIRE(out.batch.dead_letters.size() == 1);
  CHECK(out.batch.dead_letters[0].reason ==
        "event 0: data: meter tokens_total: value is a boolean, not a number");
}

TEST_CASE("the one dead letter of an event lists every refusing meter's reason", "[atomic]") {
  Config config = sum_and_count();
  config.meters.push_back(meter("latency", Aggregation::kMax, "$.latency_ms"));
  config.meters.push_back(meter("users", Aggregation::kUniqueCount, "$.user"));
  std::string payload = event(R"("tokens":"12O","user":{"id":1})");
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    Outcome out = run(config, {payload}, acknowledged);
    const std::string reasons =
        "meter tokens_total: value is a non-numeric string; meter latency: value missing at "
        "$.latency_ms; meter users: value is an object, not a number";
    REQUIRE(out.batch.dead_letters.size() == 1);
    CHECK(out.batch.dead_letters[0].reason == "event 0: data: " + reasons);
    CHECK(out.batch.dead_letters[0].raw.find("12O") != std::string::npos);
    CHECK(out.totals.empty());
    CHECK(out.rejected == 1);
    if (acknowledged) {
      REQUIRE(out.errors.size() == 1);
      CHECK(out.errors[0].reason == reasons);
    }
  }
}

TEST_CASE("an event one UNIQUE_COUNT meter refuses counts for none of the others", "[atomic]") {
  Config config = sum_and_count();
  config.meters.push_back(meter("users", Aggregation::kUniqueCount, "$.user"));
  std::string long_user(5000, 'u');
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    Outcome out = run(config, {event(R"("tokens":3,"user":")" + long_user + "\"")}, acknowledged);
    CHECK(out.totals.empty());
    REQUIRE(out.batch.dead_letters.size() == 1);
    CHECK(out.batch.dead_letters[0].reason.find(
              "meter users: value is 5000 bytes long; UNIQUE_COUNT counts values of at most") !=
          std::string::npos);
  }
  // And the other way round: a UNIQUE_COUNT meter that would accept adds no distinct value.
  Outcome out = run(config, {event(R"("tokens":"x","user":"ann")")}, false);
  bool any_distinct = false;
  out.batch.deltas.for_each_entry(
      [&](std::string_view, int64_t, const Accumulator&, const DistinctValues& values) {
        any_distinct |= !values.empty();
      });
  CHECK_FALSE(any_distinct);
  CHECK(out.batch.deltas.empty());
}

TEST_CASE("an identity over 16 KiB for one meter refuses the event for all", "[atomic]") {
  Config config = sum_and_count();
  config.meters.push_back(meter("tokens_by_model", Aggregation::kSum, "$.tokens", {"model"}));
  std::string payload = event(R"("tokens":2,"model":")" + std::string(16 * 1024, 'm') + "\"");
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    // Three times: the later ones meet the series-key cache on the datagram path.
    Outcome out = run(config, {payload, payload, payload}, acknowledged);
    CHECK(out.totals.empty());
    CHECK(out.batch.keyed.empty());
    REQUIRE(out.batch.dead_letters.size() == 3);
    CHECK(out.batch.dead_letters[0].reason.find(
              "event 0: data: meter tokens_by_model: subject and group values take") == 0);
  }
}

TEST_CASE("an event refused by one meter leaves no series in another meter's bound",
          "[atomic]") {
  // tokens_total may hold one series a window; "latency" refuses the first event (no value),
  // so c1 must not take tokens_total's only place: c2 is admitted afterwards.
  Config config = sum_and_count();
  config.meters[0].cardinality_limit = 1;
  config.meters.push_back(meter("latency", Aggregation::kMax, "$.latency_ms"));
  std::vector<std::string> payloads = {event(R"("tokens":1)", "1", "c1"),
                                       event(R"("tokens":2,"latency_ms":9)", "2", "c2"),
                                       event(R"("tokens":4,"latency_ms":9)", "3", "c3")};
  for (bool acknowledged : {false, true}) {
    INFO(transport(acknowledged));
    Outcome out = run(config, payloads, acknowledged);
    CHECK(out.totals == Totals{{{"tokens_total", "c2"}, {1, 2}},
                               {{"prompts", "c2"}, {1, 1}},
                               {{"latency", "c2"}, {1, 9}}});
    REQUIRE(out.batch.dead_letters.size() == 2);
    CHECK(out.batch.dead_letters[0].reason ==
          "event 0: data: meter latency: value missing at $.latency_ms");
    CHECK(out.batch.dead_letters[1].reason ==
          "event 0: data: meter tokens_total: cardinality_limit: window 1672531260 already "
          "holds 1 series");
    CHECK(out.over_cardinality == 1);
    CHECK(out.rejected == 2);
  }
}

TEST_CASE("a refusal by one meter's bound leaves no series in another meter's bound",
          "[atomic]") {
  // "tokens" (by subject) may hold one series, "by_model" (by subject and model) two. The
  // second event is a new series for both: "tokens" refuses it, so "by_model" must not count
  // it, and the third (c1's series for "tokens", a new one for "by_model") is admitted. Both
  // orders of the meters: the refusing one checked first and last.
  for (bool limited_first : {true, false}) {
    Config config;
    MeterConfig tokens = meter("tokens", Aggregation::kSum, "$.tokens");
    tokens.cardinality_limit = 1;
    MeterConfig by_model = meter("by_model", Aggregation::kSum, "$.tokens", {"model"});
    by_model.cardinality_limit = 2;
    config.meters = limited_first ? std::vector{tokens, by_model} : std::vector{by_model, tokens};
    std::vector<std::string> payloads = {event(R"("tokens":1,"model":"m1")", "1", "c1"),
                                         event(R"("tokens":2,"model":"m1")", "2", "c2"),
                                         event(R"("tokens":4,"model":"m2")", "3", "c1")};
    for (bool acknowledged : {false, true}) {
      INFO(transport(acknowledged) << (limited_first ? ", limited first" : ", limited last"));
      Outcome out = run(config, payloads, acknowledged);
      CHECK(out.totals == Totals{{{"tokens", "c1"}, {2, 5}}, {{"by_model", "c1"}, {2, 5}}});
      REQUIRE(out.batch.dead_letters.size() == 1);
      CHECK(out.batch.dead_letters[0].reason.find("meter tokens: cardinality_limit") !=
            std::string::npos);
      CHECK(out.over_cardinality == 1);
    }
  }
}

TEST_CASE("a sum that would overflow refuses the event that would make it", "[atomic]") {
  for (bool acknowledged : {false, true}) {
    for (const char* value : {"1e308", "-1.7e308", "\"1.7e308\""}) {
      INFO(transport(acknowledged) << ", " << value);
      std::string data = std::string(R"("tokens":)") + value;
      Outcome out = run(sum_and_count(), {event(data, "1"), event(data, "2")}, acknowledged);
      double single = value[0] == '-' ? -1.7e308 : value[0] == '1' ? 1e308 : 1.7e308;
      CHECK(out.totals ==
            Totals{{{"tokens_total", "c1"}, {1, single}}, {{"prompts", "c1"}, {1, 1}}});
      REQUIRE(out.batch.dead_letters.size() == 1);
      CHECK(out.batch.dead_letters[0].reason ==
            std::string("event 0: data: meter tokens_total: ") + kNonFinite);
      if (acknowledged) {
        REQUIRE(out.errors.size() == 1);
        CHECK(out.errors[0].reason == std::string("meter tokens_total: ") + kNonFinite);
        CHECK(out.batch.keyed.events() == 1);
      }
    }
  }
}

TEST_CASE("the sum check holds for a series found by identity and for a new interval",
          "[atomic]") {
  // "tokens_total" has no groupBy but another meter groups by model, so events of two models
  // have two series keys and one tokens_total entry: the second finds it by its identity.
  Config config = sum_and_count();
  config.meters.push_back(meter("by_model", Aggregation::kCount, nullptr, {"model"}));
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  feed(ingest, event(R"("tokens":1e308,"model":"a")"), false);
  feed(ingest, event(R"("tokens":1e308,"model":"b")"), false);
  feed(ingest, event(R"("tokens":-1e308,"model":"b")"), false);
  CommitBatch batch = ingest.take_batch();
  Totals totals = totals_of(batch.deltas);
  CHECK(totals[{"tokens_total", "c1"}] == std::pair<int64_t, double>{2, 0});
  CHECK(totals[{"prompts", "c1"}] == std::pair<int64_t, double>{2, 2});
  REQUIRE(batch.dead_letters.size() == 1);
  CHECK(batch.dead_letters[0].reason.find(kNonFinite) != std::string::npos);
  // The next interval's table starts from zero (the store bounds what it merges).
  feed(ingest, event(R"("tokens":1e308,"model":"a")"), false);
  CHECK(totals_of(ingest.take_batch().deltas)[{"tokens_total", "c1"}] ==
        std::pair<int64_t, double>{1, 1e308});
}

TEST_CASE("acknowledged values are bounded so any subset the store admits has a finite sum",
          "[atomic]") {
  // +1.5e308, -1.5e308, +1.5e308: every running sum is finite, but if the store drops the
  // middle one as a duplicate, the other two make +inf. So acknowledged events bound a
  // window's positive and negative values apart, and the third is refused.
  std::vector<std::string> payloads = {event(R"("tokens":1.5e308)", "1"),
                                       event(R"("tokens":-1.5e308)", "2"),
                                       event(R"("tokens":1.5e308)", "3")};
  Outcome out = run(sum_and_count(), payloads, true);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0].index == 0);
  CHECK(out.errors[0].reason == std::string("meter tokens_total: ") + kNonFinite);
  CHECK(out.batch.keyed.events() == 2);
  Totals without_middle = keyed_totals(out.batch, {dedup_key("s", "2", 1672531290000)});
  CHECK(without_middle[{"tokens_total", "c1"}] == std::pair<int64_t, double>{1, 1.5e308});
  // The same values over datagrams are summed as they come, so all three fit.
  Outcome datagrams = run(sum_and_count(), payloads, false);
  CHECK(datagrams.batch.dead_letters.empty());
  CHECK(datagrams.totals[{"tokens_total", "c1"}] == std::pair<int64_t, double>{3, 1.5e308});
}

TEST_CASE("an acknowledged payload reports each refused event once, beside accepted ones",
          "[atomic]") {
  Config config = sum_and_count();
  config.meters.push_back(meter("latency", Aggregation::kMax, "$.latency_ms"));
  std::string body = "[" + event(R"("tokens":1,"latency_ms":5)", "1") + "," +
                     event(R"("tokens":"x")", "2") + "," +
                     event(R"("tokens":2,"latency_ms":6)", "3") + "]";
  Outcome out = run(config, {body}, true);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0].index == 1);
  CHECK(out.errors[0].reason ==
        "meter tokens_total: value is a non-numeric string; meter latency: value missing at "
        "$.latency_ms");
  CHECK(out.batch.keyed.events() == 2);
  CHECK(out.totals[{"tokens_total", "c1"}] == std::pair<int64_t, double>{2, 3});
  CHECK(out.totals[{"prompts", "c1"}] == std::pair<int64_t, double>{2, 2});
  CHECK(out.accepted == 2);
  CHECK(out.rejected == 1);
}
