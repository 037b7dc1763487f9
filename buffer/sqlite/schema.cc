// Creates and migrates the buffer's tables (see FORMAT.md for what each row means).
//
// The version lives in `meta.schema_version`. Each migration takes a file from one version to
// the next inside the same transaction as the version bump, so a crash mid-migration leaves the
// old version intact; a new file runs them all in order. A file written by a newer build is
// refused rather than misread.
#include "buffer/sqlite/schema.h"

#include <fmt/format.h>

#include "buffer/identity/series_identity.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {
namespace {

// Version 1: windows, outbox, dead letters.
constexpr const char* kCreateV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE series (
  series_id INTEGER PRIMARY KEY,
  identity  BLOB NOT NULL UNIQUE
);

CREATE TABLE open_windows (
  series_id      INTEGER NOT NULL,
  window_start   INTEGER NOT NULL,
  window_size_s  INTEGER NOT NULL,
  revision       INTEGER NOT NULL,
  closes_at_ms   INTEGER NOT NULL,
  event_count    INTEGER NOT NULL,
  value_sum      REAL NOT NULL,
  value_min      REAL NOT NULL,
  value_max      REAL NOT NULL,
  latest_value   REAL NOT NULL,
  latest_time_ms INTEGER NOT NULL,
  PRIMARY KEY (series_id, window_start, window_size_s)
) WITHOUT ROWID;
CREATE INDEX open_windows_by_close ON open_windows (closes_at_ms);

CREATE TABLE outbox (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  idempotency_key TEXT NOT NULL UNIQUE,
  series_id       INTEGER NOT NULL,
  window_start    INTEGER NOT NULL,
  window_size_s   INTEGER NOT NULL,
  revision        INTEGER NOT NULL,
  event_count     INTEGER NOT NULL,
  value_sum       REAL NOT NULL,
  value_min       REAL NOT NULL,
  value_max       REAL NOT NULL,
  latest_value    REAL NOT NULL,
  latest_time_ms  INTEGER NOT NULL
);

CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ms INTEGER NOT NULL,
  listener    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  raw         BLOB NOT NULL
);
)sql";

// Version 2: (source, id) dedup of acknowledged transports.
constexpr const char* kMigrateToV2 = R"sql(
CREATE TABLE dedup (
  key     BLOB PRIMARY KEY,
  seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedup_by_time ON dedup (seen_ms);
)sql";

// Version 3: UNIQUE_COUNT. Distinct values of open windows, one row each (merging a delta is an
// INSERT OR IGNORE), and the closed partial's values as a JSON array of strings in the outbox.
constexpr const char* kMigrateToV3 = R"sql(
CREATE TABLE open_distinct (
  series_id      INTEGER NOT NULL,
  window_start   INTEGER NOT NULL,
  window_size_s  INTEGER NOT NULL,
  value          TEXT NOT NULL,
  PRIMARY KEY (series_id, window_start, window_size_s, value)
) WITHOUT ROWID;
ALTER TABLE outbox ADD COLUMN distinct_values TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 4: the series table looked up by an 8-byte hash of the identity instead of a UNIQUE
// index holding a second copy of every identity (~60 bytes a series of page cache and disk);
// the store compares the identity itself, so a hash collision costs a second probe, never a
// wrong series. And the outbox without a UNIQUE index on its key. Keys are unique by
// construction, and the index made every insert and every delivered-row delete touch a random
// page of it (most of a drain's writes). SQLite drops a column constraint only by rebuilding the
// table; the AUTOINCREMENT counter moves with it so seqs are never reused. Dedup keys also change
// shape in this version (event time first, see keyed_events.h): keys written by version 3 could no
// longer match a resend, so they go. Keys with a time expire by that time (a range at the
// B-tree's head); only keys of events without one need the seen-time index, a partial one.
constexpr const char* kMigrateToV4 = R"sql(
CREATE TABLE outbox_v4 (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  idempotency_key TEXT NOT NULL,
  series_id       INTEGER NOT NULL,
  window_start    INTEGER NOT NULL,
  window_size_s   INTEGER NOT NULL,
  revision        INTEGER NOT NULL,
  event_count     INTEGER NOT NULL,
  value_sum       REAL NOT NULL,
  value_min       REAL NOT NULL,
  value_max       REAL NOT NULL,
  latest_value    REAL NOT NULL,
  latest_time_ms  INTEGER NOT NULL,
  distinct_values TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO outbox_v4 (seq, idempotency_key, series_id, window_start, window_size_s, revision,
                       event_count, value_sum, value_min, value_max, latest_value,
                       latest_time_ms, distinct_values)
  SELECT seq, idempotency_key, series_id, window_start, window_size_s, revision, event_count,
         value_sum, value_min, value_max, latest_value, latest_time_ms, distinct_values
  FROM outbox;
DELETE FROM sqlite_sequence WHERE name = 'outbox_v4';
UPDATE sqlite_sequence SET name = 'outbox_v4' WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE TABLE series_v4 (
  series_id     INTEGER PRIMARY KEY,
  identity      BLOB NOT NULL,
  identity_hash INTEGER NOT NULL
);
INSERT INTO series_v4 SELECT series_id, identity, meterd_identity_hash(identity) FROM series;
DROP TABLE series;
ALTER TABLE series_v4 RENAME TO series;
CREATE INDEX series_by_hash ON series (identity_hash);
DELETE FROM dedup;
DROP INDEX dedup_by_time;
CREATE INDEX dedup_timeless_by_seen ON dedup (seen_ms)
  WHERE key >= x'8000000000000000' AND key < x'8000000000000001';
)sql";

// Version 5: dedup keys expire by arrival as well as by event time. A key whose event arrived
// long after its time (or had no time) is marked `by_arrival` and expires `dedup_window` after it
// was seen, through a partial index on seen_ms over those keys only; the others (nearly all: an
// event arrives close to its time) still expire as a range at the head of the key order. Before,
// an event older than dedup_window but within max_lateness had its key expire in the commit that
// wrote it, and a resend counted twice. The store's clock no longer keeps a high-water mark
// (a wall clock stepped forward and back held windows open until real time caught up).
// The buffer id (meta `buffer_id`, which goes into every idempotency key) is made by the store
// at open when the file has none; rows already in the outbox keep the keys they were given.
constexpr const char* kMigrateToV5 = R"sql(
ALTER TABLE dedup ADD COLUMN by_arrival INTEGER NOT NULL DEFAULT 0;
UPDATE dedup SET by_arrival = 1 WHERE key >= x'8000000000000000' AND key < x'8000000000000001';
DROP INDEX dedup_timeless_by_seen;
CREATE INDEX dedup_by_arrival ON dedup (seen_ms) WHERE by_arrival = 1;
DELETE FROM meta WHERE key = 'clock_high_water_ms';
)sql";

// Version 6: dead letters go to Kafka. Each carries its reason's class (`reason_code`: invalid,
// value, late, future, cardinality, oversized; letters kept from before have only their text and
// are `invalid`) and whether the broker confirmed its record (`sent`). A sent letter stays for
// `meterctl dlq list` until evicted; letters kept from before are unsent, so they go out too.
constexpr const char* kMigrateToV6 = R"sql(
ALTER TABLE dead_letters ADD COLUMN reason_code TEXT NOT NULL DEFAULT 'invalid';
ALTER TABLE dead_letters ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;
)sql";

// kMigrations[i] takes a file from version i to version i + 1.
constexpr const char* kMigrations[] = {kCreateV1,    kMigrateToV2, kMigrateToV3,
                                       kMigrateToV4, kMigrateToV5, kMigrateToV6};
static_assert(std::size(kMigrations) == kSchemaVersion);

Status read_version(sqlite3* db, int* version) {
  *version = 0;
  Statement read;
  Status status = read.prepare(
      db, "SELECT value FROM meta WHERE key = 'schema_version' AND "
          "EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'meta')");
  if (!status) {
    // A new file has no meta table, and SQLite refuses to prepare a query that names it.
    return Status::ok();
  }
  StatementUse use(read);
  if (read.step(&status)) *version = static_cast<int>(read.column_int(0));
  return status;
}

}  // namespace

const char* schema_migration(int from_version) {
  return from_version >= 0 && from_version < kSchemaVersion ? kMigrations[from_version] : nullptr;
}

Status register_schema_functions(sqlite3* db) {
  auto hash = [](sqlite3_context* context, int, sqlite3_value** args) {
    std::string_view identity(static_cast<const char*>(sqlite3_value_blob(args[0])),
                              static_cast<size_t>(sqlite3_value_bytes(args[0])));
    sqlite3_result_int64(context, static_cast<int64_t>(series_identity_hash(identity)));
  };
  if (sqlite3_create_function(db, "meterd_identity_hash", 1,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                              hash, nullptr, nullptr) != SQLITE_OK) {
    return Status::error(fmt::format("registering meterd_identity_hash: {}", sqlite3_errmsg(db)));
  }
  return Status::ok();
}

Status apply_schema(sqlite3* db) {
  if (Status s = register_schema_functions(db); !s) return s;
  if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
  int version = 0;
  Status status = read_version(db, &version);
  if (status && version > kSchemaVersion) {
    status = Status::error(fmt::format(
        "buffer schema version {} is newer than this build understands ({})", version,
        kSchemaVersion));
  }
  for (int from = version; status && from < kSchemaVersion; ++from) {
    status = exec(db, kMigrations[from]);
    if (!status) {
      status = Status::error(fmt::format("migrating the buffer from version {} to {}: {}", from,
                                         from + 1, status.message()));
    }
  }
  if (status && version < kSchemaVersion) {
    status = exec(db, fmt::format("INSERT OR REPLACE INTO meta VALUES ('schema_version', '{}')",
                                  kSchemaVersion));
  }
  if (!status) {
    exec(db, "ROLLBACK");
    return status;
  }
  return exec(db, "COMMIT");
}

}  // namespace meterd
