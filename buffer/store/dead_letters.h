// DeadLetterTable: the events no meter could take, kept for an operator (`meterctl dlq`) and
// bounded, so a flood of bad input cannot fill the buffer: past the limit the oldest are evicted
// (FORMAT.md, `dead_letters`).
//
// Store thread only, inside the commit's transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <vector>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/commit_batch.h"

namespace meterd {

class DeadLetterTable {
 public:
  Status prepare(sqlite3* db);
  // Inserts `letters`, then evicts the oldest rows beyond the newest `limit`; `evicted` says how
  // many went. Nothing is inserted or evicted when `letters` is empty.
  Status add(const std::vector<DeadLetter>& letters, int64_t limit, int64_t* evicted);

 private:
  sqlite3* db_ = nullptr;
  Statement insert_, evict_;
};

}  // namespace meterd
