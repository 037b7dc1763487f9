// LivePages: how many bytes a database's pages in use take (all pages less the free list), the
// measure the store holds `max_size_bytes` to. The file's own size would not do: SQLite keeps
// freed pages in the file for reuse, so a buffer that drained stays as large as it ever was.
//
// One owner thread: the statements live on its connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

class LivePages {
 public:
  Status prepare(sqlite3* db);
  // The bytes of the pages in use now (a failed read counts as none).
  int64_t bytes();

 private:
  Statement page_count_, freelist_count_;
  int64_t page_size_ = 4096;
};

}  // namespace meterd
