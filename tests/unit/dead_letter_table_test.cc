// The dead letter table alone: letters are kept as given, and past the limit the oldest go.
#include <catch2/catch.hpp>

#include "buffer/store/dead_letters.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::SchemaBuffer;

TEST_CASE("dead letter table: past the limit the oldest letters are evicted") {
  SchemaBuffer buffer;
  DeadLetterTable letters;
  REQUIRE(letters.prepare(buffer.get()));
  int64_t evicted = -1;
  REQUIRE(letters.add({{1, "udp", "first", "a"}, {2, "udp", "second", "b"}}, 2, &evicted));
  CHECK(evicted == 0);
  REQUIRE(letters.add({{3, "http", "third", std::string("c\0d", 3)}}, 2, &evicted));
  CHECK(evicted == 1);
  CHECK(buffer.query("SELECT count(*) FROM dead_letters") == 2);
  CHECK(buffer.query("SELECT min(received_ms) FROM dead_letters") == 2);
  CHECK(buffer.query("SELECT length(raw) FROM dead_letters WHERE reason = 'third'") == 3);

  evicted = -1;
  REQUIRE(letters.add({}, 0, &evicted));  // nothing to add: nothing evicted either
  CHECK(evicted == -1);
  CHECK(buffer.query("SELECT count(*) FROM dead_letters") == 2);
}
