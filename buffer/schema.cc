// Creates the buffer's tables (see FORMAT.md for what each row means and when it moves).
//
// The version lives in `meta.schema_version`; a file written by a newer build is refused rather
// than misread, and later versions add their migrations here, one step per version: a new file
// is created at version 1 and then migrated like an old one, so both take the same path.
#include "buffer/schema.h"

#include <fmt/format.h>

#include "buffer/sqlite_handle.h"

namespace meterd {
namespace {

constexpr const char* kCreateV1 = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS series (
  series_id INTEGER PRIMARY KEY,
  identity  BLOB NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS open_windows (
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
CREATE INDEX IF NOT EXISTS open_windows_by_close ON open_windows (closes_at_ms);

CREATE TABLE IF NOT EXISTS outbox (
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

CREATE TABLE IF NOT EXISTS dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ms INTEGER NOT NULL,
  listener    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  raw         BLOB NOT NULL
);
)sql";

// Version 2: UNIQUE_COUNT. Distinct values of open windows, one row each (merging a delta is an
// INSERT OR IGNORE), and the closed partial's values as a JSON array of strings in the outbox.
constexpr const char* kMigrateToV2 = R"sql(
CREATE TABLE IF NOT EXISTS open_distinct (
  series_id      INTEGER NOT NULL,
  window_start   INTEGER NOT NULL,
  window_size_s  INTEGER NOT NULL,
  value          TEXT NOT NULL,
  PRIMARY KEY (series_id, window_start, window_size_s, value)
) WITHOUT ROWID;
ALTER TABLE outbox ADD COLUMN distinct_values TEXT NOT NULL DEFAULT '[]';
)sql";

// kMigrations[v] takes a file from version v to v + 1.
constexpr const char* kMigrations[kSchemaVersion] = {nullptr, kMigrateToV2};

}  // namespace

Status apply_schema(sqlite3* db) {
  if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
  Status status = exec(db, kCreateV1);
  Statement version;
  if (status) status = version.prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  int found = 1;  // no version row: the file was created just now, at version 1
  if (status) {
    StatementUse use(version);
    if (version.step(&status)) found = static_cast<int>(version.column_int(0));
  }
  version = Statement();  // no statement may be pending while a migration alters a table
  if (status && found > kSchemaVersion) {
    status = Status::error(fmt::format(
        "buffer schema version {} is newer than this build understands ({})", found,
        kSchemaVersion));
  }
  for (int from = found; status && from < kSchemaVersion; ++from) {
    status = exec(db, kMigrations[from]);
  }
  if (status) {
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
