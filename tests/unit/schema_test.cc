// Buffer schema versions: a file of every earlier version migrates with its data intact, and a
// file from a newer build is refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "buffer/sqlite/schema.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/store.h"

using namespace meterd;

namespace {

std::string temp_path(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("meterd-schema-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// Writes a buffer file as a build of `version` would have left it, with one outbox row.
void write_old_buffer(const std::string& path, int version) {
  SqliteDb db;
  REQUIRE(open_database(path, false, &db));
  REQUIRE(register_schema_functions(db.get()));
  for (int from = 0; from < version; ++from) REQUIRE(exec(db.get(), schema_migration(from)));
  REQUIRE(exec(db.get(), version < 4
      ? "INSERT INTO series (series_id, identity) VALUES (1, x'0100000061010000006200000000')"
      : "INSERT INTO series VALUES (1, x'0100000061010000006200000000', "
        "meterd_identity_hash(x'0100000061010000006200000000'))"));
  REQUIRE(exec(db.get(), fmt::format(R"sql(
    INSERT INTO meta VALUES ('schema_version', '{}'), ('agent_id', 'old-agent');
    INSERT INTO outbox (idempotency_key, series_id, window_start, window_size_s, revision,
                        event_count, value_sum, value_min, value_max, latest_value, latest_time_ms)
    VALUES ('k', 1, 60, 60, 0, 3, 6, 1, 3, 3, 61000);)sql", version)));
}

// The one integer `sql` selects.
int64_t query_int(sqlite3* db, const char* sql) {
  Statement query;
  REQUIRE(query.prepare(db, sql));
  Status status;
  StatementUse use(query);
  REQUIRE(query.step(&status));
  return query.column_int(0);
}

}  // namespace

TEST_CASE("a buffer of every earlier schema version migrates with its rows intact") {
  for (int version = 1; version < kSchemaVersion; ++version) {
    INFO("from version " << version);
    std::string path = temp_path("buffer.db");
    write_old_buffer(path, version);
    std::unique_ptr<Store> store;
    StoreOptions options;
    options.path = path;
    REQUIRE(Store::open(options, 61000, &store));
    CHECK(store->agent_id() == "old-agent");
    CHECK(store->outbox_rows() == 1);
    store.reset();
    SqliteDb db;
    REQUIRE(open_database(path, false, &db));
    CHECK(query_int(db.get(), "SELECT value FROM meta WHERE key = 'schema_version'") ==
          kSchemaVersion);
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
}

TEST_CASE("a buffer from a newer build is refused, not misread") {
  std::string path = temp_path("buffer.db");
  write_old_buffer(path, kSchemaVersion);
  {
    SqliteDb db;
    REQUIRE(open_database(path, false, &db));
    REQUIRE(exec(db.get(), "UPDATE meta SET value = '99' WHERE key = 'schema_version'"));
  }
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.path = path;
  Status status = Store::open(options, 0, &store);
  REQUIRE_FALSE(status);
  CHECK(status.message().find("newer than this build") != std::string::npos);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("version 4 drops the outbox's key index and keeps its sequence going") {
  std::string path = temp_path("buffer.db");
  write_old_buffer(path, 3);
  {
    SqliteDb db;
    REQUIRE(open_database(path, false, &db));
    // A delivered row took seq 2 once: new rows must not reuse it after the rebuild.
    REQUIRE(exec(db.get(), R"sql(
      INSERT INTO outbox (idempotency_key, series_id, window_start, window_size_s, revision,
                          event_count, value_sum, value_min, value_max, latest_value,
                          latest_time_ms)
      VALUES ('k2', 1, 120, 60, 0, 1, 1, 1, 1, 1, 121000);
      DELETE FROM outbox WHERE idempotency_key = 'k2';)sql"));
  }
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.path = path;
  REQUIRE(Store::open(options, 61000, &store));
  CHECK(store->outbox_rows() == 1);
  store.reset();
  SqliteDb db;
  REQUIRE(open_database(path, false, &db));
  CHECK(query_int(db.get(), "SELECT count(*) FROM pragma_index_list('outbox')") == 0);
  CHECK(query_int(db.get(), "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'") == 2);
  CHECK(query_int(db.get(), "SELECT count(*) FROM outbox WHERE idempotency_key = 'k' AND "
                            "distinct_values = '[]' AND event_count = 3") == 1);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("version 4 finds a migrated series by its hash: new events join the old series") {
  std::string path = temp_path("buffer.db");
  write_old_buffer(path, 3);  // series 1 is x'01000000 61 01000000 62 00000000'
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.path = path;
  REQUIRE(Store::open(options, 61000, &store));
  CommitBatch batch;
  std::string identity("\x01\x00\x00\x00" "a" "\x01\x00\x00\x00" "b" "\x00\x00\x00\x00", 14);
  batch.deltas.add(identity, 120, 5, 121000);
  CommitResult result;
  REQUIRE(store->commit(batch, 121000, &result));
  store.reset();
  SqliteDb db;
  REQUIRE(open_database(path, false, &db));
  CHECK(query_int(db.get(), "SELECT count(*) FROM series") == 1);  // no second row for it
  CHECK(query_int(db.get(), "SELECT max(series_id) FROM series") == 1);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("version 5 keeps the outbox's keys, makes a buffer id and marks keyless-time dedup keys") {
  std::string path = temp_path("buffer.db");
  write_old_buffer(path, 4);
  {
    SqliteDb db;
    REQUIRE(open_database(path, false, &db));
    // A timed key and a key of an event without a time (time 0: x'8000000000000000').
    REQUIRE(exec(db.get(), R"sql(
      INSERT INTO dedup VALUES (x'80000185686f7e00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 61000);
      INSERT INTO dedup VALUES (x'8000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 61000);
      INSERT INTO meta VALUES ('clock_high_water_ms', '99999999999999');)sql"));
  }
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.path = path;
  REQUIRE(Store::open(options, 61000, &store));
  CHECK(store->buffer_id().size() == 32);
  CHECK(store->dedup_keys() == 2);
  const std::string buffer_id = store->buffer_id();
  store.reset();
  SqliteDb db;
  REQUIRE(open_database(path, false, &db));
  CHECK(query_int(db.get(), "SELECT count(*) FROM outbox WHERE idempotency_key = 'k'") == 1);
  CHECK(query_int(db.get(), "SELECT sum(by_arrival) FROM dedup") == 1);
  CHECK(query_int(db.get(), "SELECT by_arrival FROM dedup WHERE key < x'8000000000000001'") == 1);
  CHECK(query_int(db.get(), "SELECT count(*) FROM meta WHERE key = 'clock_high_water_ms'") == 0);
  REQUIRE(Store::open(options, 61000, &store));
  CHECK(store->buffer_id() == buffer_id);  // made once, then kept
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("version 6 keeps the dead letters, as reason code invalid and unsent") {
  std::string path = temp_path("buffer.db");
  write_old_buffer(path, 5);
  {
    SqliteDb db;
    REQUIRE(open_database(path, false, &db));
    REQUIRE(exec(db.get(), R"sql(
      INSERT INTO dead_letters (received_ms, listener, reason, raw)
      VALUES (61000, 'udp', 'not JSON', x'7b7b'), (62000, 'http', 'missing id', x'7b7d');)sql"));
  }
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.path = path;
  REQUIRE(Store::open(options, 61000, &store));
  // A new letter after the migration takes the next id and its own reason code.
  CommitBatch batch;
  batch.dead_letters.push_back({63000, "udp", "too old", "{}", "late"});
  CommitResult result;
  REQUIRE(store->commit(batch, 63000, &result));
  store.reset();
  SqliteDb db;
  REQUIRE(open_database(path, false, &db));
  CHECK(query_int(db.get(), "SELECT count(*) FROM dead_letters") == 3);
  CHECK(query_int(db.get(), "SELECT count(*) FROM dead_letters WHERE reason_code = 'invalid' "
                            "AND sent = 0 AND id <= 2") == 2);
  CHECK(query_int(db.get(), "SELECT count(*) FROM dead_letters WHERE reason = 'not JSON' AND "
                            "listener = 'udp' AND raw = x'7b7b'") == 1);
  CHECK(query_int(db.get(), "SELECT id FROM dead_letters WHERE reason_code = 'late'") == 3);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
