// The store's flat series-id cache: finds what was inserted, through growth, and nothing else.
#include <catch2/catch.hpp>

#include <string>

#include "buffer/identity/series_id_cache.h"

using namespace meterd;

TEST_CASE("the series-id cache finds every inserted identity through growth, and nothing else") {
  SeriesIdCache cache;
  CHECK(cache.find("never") == 0);
  for (int64_t i = 1; i <= 20'000; ++i) cache.insert("series-" + std::to_string(i), i * 7);
  CHECK(cache.size() == 20'000);
  for (int64_t i = 1; i <= 20'000; ++i) REQUIRE(cache.find("series-" + std::to_string(i)) == i * 7);
  CHECK(cache.find("series-0") == 0);
  CHECK(cache.find("series-20001") == 0);
  cache.insert("series-5", 99);  // a new id for a known identity replaces the old one
  CHECK(cache.find("series-5") == 99);
  CHECK(cache.size() == 20'000);
  cache.clear();
  CHECK(cache.find("series-5") == 0);
  CHECK(cache.size() == 0);
}
