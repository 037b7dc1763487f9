// UNIQUE_COUNT in the buffer: distinct values merge across commits per open window, go out with
// the closed partial as a sorted JSON array, and a revision carries only its own values. Also
// the migration of a version-1 buffer, which had no place for them.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "buffer/schema.h"
#include "buffer/series_identity.h"
#include "tests/unit/temp_buffer.h"
#include "uplink/record_encoder.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

const std::string kUsers = encode_series({"users", "c1", {}});
const std::string kTokens = encode_series({"tokens", "c1", {}});
constexpr int64_t kWindow = 1672531260;     // 00:01:00
constexpr int64_t kInside = 1672531290000;  // 00:01:30
constexpr int64_t kClosed = 1672531330000;  // 00:02:10: end + 10 s grace

CommitBatch distinct_batch(std::vector<std::string> values, int64_t time_ms = kInside) {
  CommitBatch batch;
  for (const auto& v : values) batch.deltas.add_distinct(kUsers, kWindow, v, time_ms);
  return batch;
}

}  // namespace

TEST_CASE("distinct values merge across commits and leave with the partial, sorted") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"u2", "u1", "u2"}), kInside, &result));
  CommitBatch mixed = distinct_batch({"u1", "u3", "quote\"d"});
  mixed.deltas.add(kTokens, kWindow, 5, kInside);
  REQUIRE(store->commit(mixed, kInside + 1, &result));
  REQUIRE(store->commit({}, kClosed, &result));

  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  const OutboxRow& users = rows[0].series.meter == "users" ? rows[0] : rows[1];
  const OutboxRow& tokens = rows[0].series.meter == "users" ? rows[1] : rows[0];
  CHECK(users.values.event_count == 6);
  CHECK(users.distinct_values_json == R"(["quote\"d","u1","u2","u3"])");
  CHECK(tokens.distinct_values_json == "[]");

  std::string record;
  encode_record("edge-1", users, &record);
  CHECK(record.find(R"("distinct_values":["quote\"d","u1","u2","u3"]})") != std::string::npos);
}

TEST_CASE("a late revision carries only the distinct values it saw itself") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"a", "b"}), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  REQUIRE(store->commit(distinct_batch({"b", "c"}), kClosed + 1000, &result));
  REQUIRE(store->commit({}, kClosed + 20'000, &result));

  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].revision == 0);
  CHECK(rows[0].distinct_values_json == R"(["a","b"])");
  CHECK(rows[1].revision > 0);
  CHECK(rows[1].distinct_values_json == R"(["b","c"])");
}

TEST_CASE("a version-1 buffer is migrated: its outbox rows get an empty distinct array") {
  TempBuffer temp;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(temp.options().path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, schema_migration(0), nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, R"sql(
      INSERT INTO meta VALUES ('schema_version', '1');
      INSERT INTO outbox VALUES (1, 'k', 1, 60, 60, 0, 1, 1, 1, 1, 1, 1000);)sql",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    std::string identity = kTokens;
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO series VALUES (1, ?1)", -1, &insert, nullptr);
    sqlite3_bind_blob(insert, 1, identity.data(), int(identity.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].distinct_values_json == "[]");
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"x"}), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  CHECK(read_outbox(temp.options()).back().distinct_values_json == R"(["x"])");
}
