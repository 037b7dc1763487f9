// SeriesTable: the `series` table (identity ↔ series_id, FORMAT.md) and the store's cache of it.
//
// Every open window and outbox row names its series by id; the identity (series_identity.h) is
// stored once. The cache (series_id_cache.h) means a commit asks SQLite only about series it has
// not seen since the last collection. Ids handed out inside a transaction that rolls back no
// longer exist, so the store calls forget_cached() after every rollback.
//
// Store thread only, inside the commit's transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string_view>

#include "buffer/base/status.h"
#include "buffer/identity/series_id_cache.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

class SeriesTable {
 public:
  Status prepare(sqlite3* db);
  // The id of `identity`'s row, inserting the row if there is none.
  Status id_of(std::string_view identity, int64_t* id);
  // Deletes the rows no open window, open distinct value or outbox row refers to (`collected`
  // says how many) and forgets the cached ids if any went: a series seen again gets a new row.
  // Idempotency keys are made of the identity, not the id, so a series' keys do not change.
  Status collect_unused(int64_t* collected);
  void forget_cached() { cache_.clear(); }

 private:
  sqlite3* db_ = nullptr;
  Statement find_, insert_, collect_;
  SeriesIdCache cache_;
};

}  // namespace meterd
