// MetaTable: the `meta` rows the store keeps (FORMAT.md, `meta`): whose buffer it is, its random
// id, and the counters that must survive a restart (commit_seq, emitted_through_ms, the dedup
// key count, the window size last used). The schema version is the schema's (schema.h).
//
// Store thread only; the statements live on the store's connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

struct StoredMeta {
  std::string agent_id;
  std::string buffer_id;  // empty: a new buffer, or one from before buffer ids
  int64_t commit_seq = 0;
  std::optional<int64_t> dedup_keys;  // none: a buffer from before the count was kept
  int64_t emitted_through_ms = 0;
  int64_t window_size_s = 0;  // 0: never saved
};

class MetaTable {
 public:
  Status prepare(sqlite3* db);
  // Reads every row the store keeps; a key not in the table leaves its field as it was.
  Status load(StoredMeta* meta);
  // Writes every field (a missing dedup count as 0), inside the caller's transaction.
  Status save(const StoredMeta& meta);

 private:
  Statement read_, save_;
};

}  // namespace meterd
