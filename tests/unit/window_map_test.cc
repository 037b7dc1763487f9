// WindowMap: the delta table's flat hash map (buffer/windows/window_map.h).
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "buffer/windows/window_map.h"

using meterd::Accumulator;
using meterd::WindowMap;

TEST_CASE("window map keeps one accumulator per identity and window start") {
  WindowMap map;
  map.at("a", 60).add(1, 1000);
  map.at("a", 60).add(2, 2000);
  map.at("a", 120).add(5, 3000);
  map.at("b", 60).add(7, 4000);
  CHECK(map.size() == 3);
  CHECK(map.at("a", 60).value_sum == 3);
  CHECK(map.at("a", 60).event_count == 2);
  CHECK(map.at("a", 120).value_sum == 5);
  CHECK(map.at("b", 60).latest_value == 7);
}

TEST_CASE("window map survives growth and visits every entry once") {
  WindowMap map;
  std::map<std::pair<std::string, int64_t>, double> expected;
  for (int i = 0; i < 20'000; ++i) {
    std::string identity = "series-" + std::to_string(i % 5'000);
    int64_t window = 60 * (i % 3);
    map.at(identity, window).add(i, i);
    expected[{identity, window}] += i;
  }
  CHECK(map.size() == expected.size());
  size_t visited = 0;
  map.for_each([&](std::string_view identity, int64_t window, const Accumulator& acc) {
    ++visited;
    CHECK(expected.at({std::string(identity), window}) == acc.value_sum);
  });
  CHECK(visited == expected.size());
  map.clear();
  CHECK(map.size() == 0);
}

TEST_CASE("find sees only what at() created; a reserved map holds its entries without growing") {
  WindowMap map;
  CHECK(map.find("a", 60) == nullptr);
  map.at("a", 60).add(2, 1);
  REQUIRE(map.find("a", 60) != nullptr);
  CHECK(map.find("a", 60)->value_sum == 2);
  CHECK(map.find("a", 120) == nullptr);
  CHECK(map.find("b", 60) == nullptr);
  WindowMap reserved;
  reserved.reserve(1000, 8000);
  for (int i = 0; i < 1000; ++i) reserved.at("series-" + std::to_string(i), 60).add(i, 1);
  CHECK(reserved.size() == 1000);
  for (int i = 0; i < 1000; ++i) REQUIRE(reserved.find("series-" + std::to_string(i), 60)->value_sum == i);
}
