// The series table alone: an identity keeps its id, a series nothing refers to is collected
// (and one an open window names is not), and ids handed out in a rolled-back transaction are
// forgotten.
#include <catch2/catch.hpp>

#include "buffer/identity/series_identity.h"
#include "buffer/store/series.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::SchemaBuffer;

namespace {

const std::string kA = encode_series({"tokens", "a", {}});
const std::string kB = encode_series({"tokens", "b", {}});

}  // namespace

TEST_CASE("series table: an identity keeps its id; another gets another") {
  SchemaBuffer buffer;
  SeriesTable series;
  REQUIRE(series.prepare(buffer.get()));
  int64_t a = 0, a_again = 0, b = 0;
  REQUIRE(series.id_of(kA, &a));
  REQUIRE(series.id_of(kA, &a_again));
  REQUIRE(series.id_of(kB, &b));
  CHECK(a > 0);
  CHECK(a == a_again);
  CHECK(b != a);
  SeriesTable fresh;  // no cache: found in the table
  REQUIRE(fresh.prepare(buffer.get()));
  REQUIRE(fresh.id_of(kA, &a_again));
  CHECK(a_again == a);
  CHECK(buffer.query("SELECT count(*) FROM series") == 2);
}

TEST_CASE("series table: only series nothing refers to are collected") {
  SchemaBuffer buffer;
  SeriesTable series;
  REQUIRE(series.prepare(buffer.get()));
  int64_t a = 0, b = 0;
  REQUIRE(series.id_of(kA, &a));
  REQUIRE(series.id_of(kB, &b));
  REQUIRE(exec(buffer.get(), "INSERT INTO open_windows VALUES (" + std::to_string(a) +
                                 ", 60, 60, 0, 130000, 1, 1, 1, 1, 1, 61000)"));
  int64_t collected = 0;
  REQUIRE(series.collect_unused(&collected));
  CHECK(collected == 1);
  int64_t a_again = 0;
  REQUIRE(series.id_of(kA, &a_again));
  CHECK(a_again == a);
  CHECK(buffer.query("SELECT count(*) FROM series WHERE series_id = " + std::to_string(b)) == 0);
}

TEST_CASE("series table: after a rollback and forget_cached an id names a row again") {
  SchemaBuffer buffer;
  SeriesTable series;
  REQUIRE(series.prepare(buffer.get()));
  int64_t id = 0;
  REQUIRE(exec(buffer.get(), "BEGIN"));
  REQUIRE(series.id_of(kA, &id));
  REQUIRE(exec(buffer.get(), "ROLLBACK"));
  series.forget_cached();
  REQUIRE(series.id_of(kA, &id));
  CHECK(buffer.query("SELECT count(*) FROM series WHERE series_id = " + std::to_string(id)) == 1);
}
