// Counting the live pages of a database (see live_pages.h).
#include "buffer/sqlite/live_pages.h"

namespace meterd {

Status LivePages::prepare(sqlite3* db) {
  Status s = page_count_.prepare(db, "PRAGMA page_count");
  if (s) s = freelist_count_.prepare(db, "PRAGMA freelist_count");
  Statement page_size;
  if (s) s = page_size.prepare(db, "PRAGMA page_size");
  if (s) s = query_int(page_size, &page_size_);
  return s;
}

int64_t LivePages::bytes() {
  int64_t pages = 0, free_pages = 0;
  query_int(page_count_, &pages);
  query_int(freelist_count_, &free_pages);
  return (pages - free_pages) * page_size_;
}

}  // namespace meterd
