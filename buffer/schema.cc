// Creates the buffer's tables (see FORMAT.md for what each row means and when it moves).
//
// The version lives in `meta.schema_version`; a file written by a newer build is refused rather
// than misread, and later versions add their migrations here, one step per version.
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

CREATE TABLE IF NOT EXISTS dedup (
  key     BLOB PRIMARY KEY,
  seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_time ON dedup (seen_ms);

CREATE TABLE IF NOT EXISTS dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ms INTEGER NOT NULL,
  listener    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  raw         BLOB NOT NULL
);
)sql";

}  // namespace

Status apply_schema(sqlite3* db) {
  if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
  Status status = exec(db, kCreateV1);
  Statement version;
  if (status) status = version.prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (status) {
    StatementUse use(version);
    if (version.step(&status)) {
      int found = static_cast<int>(version.column_int(0));
      if (found > kSchemaVersion) {
        status = Status::error(fmt::format(
            "buffer schema version {} is newer than this build understands ({})", found,
            kSchemaVersion));
      }
    } else if (status) {
      status = exec(db, fmt::format("INSERT INTO meta VALUES ('schema_version', '{}')",
                                    kSchemaVersion));
    }
  }
  version = Statement();
  if (!status) {
    exec(db, "ROLLBACK");
    return status;
  }
  return exec(db, "COMMIT");
}

}  // namespace meterd
