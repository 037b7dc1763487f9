// DeadLetterTable: the events no meter could take, kept for an operator (`meterctl dlq`) and for
// the center (the uplink sends each to Kafka's dead-letter topic), and bounded, so a flood of bad
// input cannot fill the buffer: past the limit the oldest are evicted, sent or not (FORMAT.md,
// `dead_letters`).
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
  // Inserts `letters` (unsent), then evicts the oldest rows beyond the newest `limit`; `evicted`
  // says how many went. Nothing is inserted or evicted when `letters` is empty.
  Status add(const std::vector<DeadLetter>& letters, int64_t limit, int64_t* evicted);
  // Marks the letters whose records the broker confirmed; ids evicted since are skipped.
  Status mark_sent(const std::vector<int64_t>& ids);
  // Letters inserted since the table was prepared (committed or not): the store compares it
  // across a transaction to know whether the uplink has news.
  uint64_t rows_inserted() const { return rows_inserted_; }

 private:
  sqlite3* db_ = nullptr;
  Statement insert_, evict_, mark_sent_;
  uint64_t rows_inserted_ = 0;
};

}  // namespace meterd
