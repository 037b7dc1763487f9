// The ingest path's shortcut for a series seen before in the interval (one lookup per event for
// all the meters of its type) must land every event exactly where the full path would: checked
// against a reference that feeds each event to a fresh pipeline of its own, where every lookup
// is a first one.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "agent/ingest/ingest.h"

using namespace meterd;

namespace {

MeterConfig meter(const std::string& slug, const std::string& type, Aggregation aggregation,
                  const char* value_path, std::vector<std::string> groups) {
  MeterConfig m;
  m.slug = slug;
  m.event_type = type;
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

// Meters whose group paths overlap only in part (so a series is named by the union of the
// type's paths), two types with the same number of paths (so the type must be part of what
// names a series), and a UNIQUE_COUNT meter beside the others.
Config config() {
  Config c;
  c.meters = {
      meter("tokens", "prompt", Aggregation::kSum, "$.tokens", {"model", "region"}),
      meter("prompts", "prompt", Aggregation::kCount, nullptr, {}),
      meter("peak", "prompt", Aggregation::kMax, "$.tokens", {"user"}),
      meter("users", "prompt", Aggregation::kUniqueCount, "$.user", {"model"}),
      meter("job_tokens", "job", Aggregation::kSum, "$.tokens", {"model"}),
      meter("batch_tokens", "batch", Aggregation::kSum, "$.tokens", {"model"}),
  };
  c.meters[0].cardinality_limit = 6;  // some series of this meter are refused
  return c;
}

constexpr int64_t kNow = 1672531320000;  // 2023-01-01T00:02:00Z

// Random events: group values missing, null, numbers and numeric strings (7 and "7" name one
// series), tokens sometimes missing (those meters refuse the event, the others count it).
std::vector<std::string> random_events(int count) {
  std::mt19937 random(42);
  auto pick = [&](int n) { return static_cast<int>(random() % n); };
  const char* types[] = {"prompt", "prompt", "job", "batch"};
  const char* users[] = {"", R"("user":7,)", R"("user":"7",)", R"("user":null,)",
                         R"("user":"ann",)"};
  const char* regions[] = {"", R"("region":"eu",)", R"("region":"us",)"};
  std::vector<std::string> events;
  for (int i = 0; i < count; ++i) {
    std::string data = std::string(users[pick(5)]) + regions[pick(3)] + R"("model":"m)" +
                       std::to_string(pick(3)) + "\"";
    if (pick(8) != 0) data += R"(,"tokens":)" + std::to_string(1 + pick(100));
    events.push_back(R"({"specversion":"1.0","id":")" + std::to_string(i) +
                     R"(","source":"s","type":")" + types[pick(4)] + R"(","subject":"c)" +
                     std::to_string(pick(3)) + R"(","time":"2023-01-01T00:0)" +
                     std::to_string(pick(2)) + ":" + std::to_string(10 + pick(50)) +
                     R"(Z","data":{)" + data + "}}");
  }
  return events;
}

// (identity, window start) → (count, sum, min, max, distinct values seen)
using Totals = std::map<std::tuple<std::string, int64_t>,
                        std::tuple<int64_t, double, double, double, std::set<std::string>>>;

void add_batch(const CommitBatch& batch, Totals* totals) {
  batch.deltas.for_each_entry([&](std::string_view identity, int64_t start,
                                  const Accumulator& acc, const DistinctValues& distinct) {
    auto [it, fresh] = totals->try_emplace({std::string(identity), start}, 0, 0.0,
                                           acc.value_min, acc.value_max, std::set<std::string>{});
    auto& [count, sum, min, max, values] = it->second;
    count += acc.event_count;
    sum += acc.value_sum;
    min = std::min(min, acc.value_min);
    max = std::max(max, acc.value_max);
    values.insert(distinct.begin(), distinct.end());
  });
}

}  // namespace

TEST_CASE("events of a series seen before in the interval land where the full lookup puts them") {
  Config c = config();
  MeterSet meters(c.meters);
  std::vector<std::string> events = random_events(3000);

  // Payloads of one to five events.
  std::mt19937 random(7);
  std::vector<std::string> payloads;
  for (size_t i = 0; i < events.size();) {
    size_t n = std::min<size_t>(1 + random() % 5, events.size() - i);
    std::string payload = "[";
    for (size_t k = 0; k < n; ++k) payload += (k ? "," : "") + events[i + k];
    payloads.push_back(payload + "]");
    i += n;
  }

  // Reference: the same payloads as acknowledged ones, which never use the series-key cache
  // (their contributions are kept per event, each found by its identity). The cardinality
  // bound sees the same series in the same order, so it refuses the same events, and an
  // event refused by one meter counts for none.
  Totals expected;
  {
    Ingest reference(c, meters);
    for (const std::string& payload : payloads) {
      reference.accept(Payload{payload, false, "http", kNow, true}, nullptr);
    }
    CommitBatch keyed = reference.take_batch();
    CommitBatch as_deltas;
    bool failed = false;
    keyed.keyed.merge_admitted([](const DedupKey&, bool*) { return true; }, &as_deltas.deltas,
                               &failed);
    add_batch(as_deltas, &expected);
  }

  // One pipeline of datagrams, the batch taken every few dozen events.
  Ingest ingest(c, meters);
  Totals actual;
  size_t most_cached = 0;
  for (const std::string& payload : payloads) {
    ingest.accept(Payload{payload, false, "udp", kNow, false}, nullptr);
    most_cached = std::max(most_cached, ingest.cached_series_keys());
    if (random() % 40 == 0) add_batch(ingest.take_batch(), &actual);
  }
  CHECK(most_cached > 10);  // the events went through the cache
  add_batch(ingest.take_batch(), &actual);

  // Every series matches the reference exactly, and the bound held the tokens meter to its 6
  // series per window (refusing some, with the same events as the reference refused).
  std::string tokens_prefix;
  append_field(&tokens_prefix, "tokens");
  std::map<int64_t, int64_t> tokens_series_held;  // by window
  for (const auto& [key, totals] : expected) {
    const auto& [identity, window] = key;
    if (identity.compare(0, tokens_prefix.size(), tokens_prefix) == 0) ++tokens_series_held[window];
    auto found = actual.find(key);
    INFO("series " << identity << ", window " << window);
    REQUIRE(found != actual.end());
    CHECK(found->second == totals);
  }
  CHECK(actual.size() == expected.size());
  for (const auto& [window, count] : tokens_series_held) CHECK(count <= 6);
  CHECK(ingest.counters().events_over_cardinality > 0);
  CHECK(actual.size() > 50);  // the random events spread over many series
}

TEST_CASE("series beyond the series-key cache's bound are still counted exactly") {
  Config c;
  c.meters = {meter("tokens", "prompt", Aggregation::kSum, "$.tokens", {}),
              meter("prompts", "prompt", Aggregation::kCount, nullptr, {})};
  c.windows.max_series_per_meter = 1'000'000;
  MeterSet meters(c.meters);
  Ingest ingest(c, meters);
  const int subjects = static_cast<int>(EventSeriesCache::kMaxKeys) + 5000;
  for (int round = 0; round < 2; ++round) {  // every series twice in one interval
    for (int first = 0; first < subjects; first += 20) {
      std::string payload = "[";
      for (int s = first; s < std::min(first + 20, subjects); ++s) {
        payload += (s == first ? "" : ",") +
                   std::string(R"({"specversion":"1.0","id":"x","source":"s","type":"prompt",)") +
                   R"("subject":"c)" + std::to_string(s) +
                   R"(","time":"2023-01-01T00:01:10Z","data":{"tokens":)" + std::to_string(s % 7) +
                   "}}";
      }
      ingest.accept(Payload{payload + "]", false, "udp", kNow, false}, nullptr);
    }
  }
  CHECK(ingest.cached_series_keys() == EventSeriesCache::kMaxKeys);  // full
  Totals totals;
  add_batch(ingest.take_batch(), &totals);
  REQUIRE(totals.size() == 2 * static_cast<size_t>(subjects));
  for (const auto& [key, value] : totals) {
    const auto& [count, sum, min, max, values] = value;
    CHECK(count == 2);
    CHECK(min == max);
    CHECK(sum == 2 * min);
  }
}

TEST_CASE("the series-key cache tells keys apart by the whole hash") {
  EventSeriesCache cache;
  cache.positions(WindowMap::Hash{5, 1}, 1)[0] = 11;
  uint32_t* same_low = cache.positions(WindowMap::Hash{5, 2}, 1);
  CHECK(same_low[0] == EventSeriesCache::kUnknown);
  same_low[0] = 22;
  uint32_t* same_slot = cache.positions(WindowMap::Hash{5 + 64, 1}, 1);  // 64 slots at first
  CHECK(same_slot[0] == EventSeriesCache::kUnknown);
  CHECK(cache.positions(WindowMap::Hash{5, 1}, 1)[0] == 11);
  CHECK(cache.positions(WindowMap::Hash{5, 2}, 1)[0] == 22);
  CHECK(cache.size() == 3);
}

TEST_CASE("the series-key cache holds a bounded number of keys, then sends new ones the long way") {
  EventSeriesCache cache;
  auto key = [](uint64_t n) { return WindowMap::Hash{n * 0x9E3779B97F4A7C15ull, n}; };
  for (uint64_t n = 0; n < EventSeriesCache::kMaxKeys; ++n) {
    uint32_t* positions = cache.positions(key(n), 2);
    REQUIRE(positions != nullptr);
    positions[1] = static_cast<uint32_t>(n);
  }
  CHECK(cache.positions(key(EventSeriesCache::kMaxKeys), 2) == nullptr);  // full
  uint32_t* known = cache.positions(key(12345), 2);  // a key it holds is still found
  REQUIRE(known != nullptr);
  CHECK(known[0] == EventSeriesCache::kUnknown);
  CHECK(known[1] == 12345);
  cache.clear();
  CHECK(cache.size() == 0);
  uint32_t* fresh = cache.positions(key(EventSeriesCache::kMaxKeys), 2);
  REQUIRE(fresh != nullptr);
  CHECK(fresh[1] == EventSeriesCache::kUnknown);
}
