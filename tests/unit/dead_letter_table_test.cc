// The dead letter table alone: letters are kept as given with their reason code, marked sent on
// request, and past the limit the oldest go, sent or not.
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

TEST_CASE("dead letter table: a letter keeps its reason code and starts unsent") {
  SchemaBuffer buffer;
  DeadLetterTable letters;
  REQUIRE(letters.prepare(buffer.get()));
  int64_t evicted = 0;
  REQUIRE(letters.add({{1, "udp", "value is not a number", "{}", "value"},
                       {2, "http", "bad", "{}"}},
                      10, &evicted));
  CHECK(buffer.query("SELECT count(*) FROM dead_letters WHERE reason_code = 'value'") == 1);
  CHECK(buffer.query("SELECT count(*) FROM dead_letters WHERE reason_code = 'invalid'") == 1);
  CHECK(buffer.query("SELECT sum(sent) FROM dead_letters") == 0);
  CHECK(letters.rows_inserted() == 2);
}

TEST_CASE("dead letter table: marking sent touches only those ids; eviction ignores the state") {
  SchemaBuffer buffer;
  DeadLetterTable letters;
  REQUIRE(letters.prepare(buffer.get()));
  int64_t evicted = 0;
  REQUIRE(letters.add({{1, "udp", "a", "1"}, {2, "udp", "b", "2"}, {3, "udp", "c", "3"}}, 10,
                      &evicted));
  REQUIRE(letters.mark_sent({2, 3, 99}));  // 99: evicted long ago, nothing to do
  CHECK(buffer.query("SELECT group_concat(id) = '2,3' FROM dead_letters WHERE sent = 1") == 1);
  // The limit counts every letter: the oldest go first, here an unsent one and a sent one.
  REQUIRE(letters.add({{4, "udp", "d", "4"}}, 2, &evicted));
  CHECK(evicted == 2);
  CHECK(buffer.query("SELECT min(id) FROM dead_letters") == 3);
  CHECK(buffer.query("SELECT sent FROM dead_letters WHERE id = 3") == 1);
  CHECK(buffer.query("SELECT sent FROM dead_letters WHERE id = 4") == 0);
}
