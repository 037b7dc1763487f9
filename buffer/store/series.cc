// Looking up, creating and collecting series rows (see series.h).
#include "buffer/store/series.h"

#include "buffer/identity/series_identity.h"

namespace meterd {
namespace {

// By hash and identity together: the hash is indexed (series_by_hash), the identity settles the
// rare collision.
constexpr const char* kFindSql =
    "SELECT series_id FROM series WHERE identity_hash = ?1 AND identity = ?2";
constexpr const char* kInsertSql = "INSERT INTO series (identity, identity_hash) VALUES (?1, ?2)";
// Each NOT IN list is built once per run (one scan of each table), not looked up per series:
// the outbox has no index on series_id, and needs none elsewhere. open_distinct rows belong
// to open windows; it is listed anyway, as a deleted id may be reused by the next new series.
constexpr const char* kCollectSql = R"sql(
    DELETE FROM series
    WHERE series_id NOT IN (SELECT series_id FROM open_windows)
      AND series_id NOT IN (SELECT series_id FROM outbox)
      AND series_id NOT IN (SELECT series_id FROM open_distinct))sql";

}  // namespace

Status SeriesTable::prepare(sqlite3* db) {
  db_ = db;
  Status s = find_.prepare(db, kFindSql);
  if (s) s = insert_.prepare(db, kInsertSql);
  if (s) s = collect_.prepare(db, kCollectSql);
  return s;
}

Status SeriesTable::id_of(std::string_view identity, int64_t* id) {
  if ((*id = cache_.find(identity)) != 0) return Status::ok();
  const auto hash = static_cast<int64_t>(series_identity_hash(identity));
  bool found = false;
  {
    Status status;
    StatementUse use(find_);
    find_.bind(1, hash);
    find_.bind_blob(2, identity);
    found = find_.step(&status);
    if (!status) return status;
    if (found) *id = find_.column_int(0);
  }
  if (!found) {
    StatementUse use(insert_);
    insert_.bind_blob(1, identity);
    insert_.bind(2, hash);
    if (Status s = insert_.run(); !s) return s;
    *id = sqlite3_last_insert_rowid(db_);
  }
  cache_.insert(identity, *id);
  return Status::ok();
}

Status SeriesTable::collect_unused(int64_t* collected) {
  StatementUse use(collect_);
  if (Status s = collect_.run(); !s) return s;
  *collected = sqlite3_changes(db_);
  // Simplest safe forgetting: the cache refills from the table for the series still active.
  if (*collected > 0) cache_.clear();
  return Status::ok();
}

}  // namespace meterd
