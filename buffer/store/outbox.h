// OutboxTable: the store's side of `outbox`, the closed partials waiting for Kafka (FORMAT.md,
// `outbox`): inserted when a window closes, deleted only after the broker confirmed them, and
// merged into hourly rows by coarsening during a long outage. The uplink reads the same rows
// through its own connection (outbox_reader.h); both use columns.h's one column list.
//
// The row count is kept in memory in step with every insert and delete, so a commit never
// counts the table. Store thread only, inside the commit's transaction; after a rollback the
// store puts back the count it had before (restore_rows).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/columns.h"
#include "buffer/windows/accumulator.h"
#include "buffer/windows/distinct_chunks.h"

namespace meterd {

// An outbox row as coarsening groups it: under the start of its coarse window.
struct CoarsenableRow {
  int64_t seq = 0;
  int64_t series_id = 0;
  std::string_view identity;  // valid during the visit only
  int64_t coarse_start = 0;
  int64_t window_size_s = 0;
  Accumulator values;
};

class OutboxTable {
 public:
  // Prepares the statements and counts the rows (once, at open).
  Status open(sqlite3* db);
  // The highest seq ever assigned, deleted rows included (0 for a new buffer).
  Status highest_seq_ever(int64_t* seq);

  int64_t rows() const { return rows_; }
  void restore_rows(int64_t rows) { rows_ = rows; }
  // Rows inserted since open: a transaction that raised it added rows to the outbox.
  uint64_t rows_inserted() const { return rows_inserted_; }

  Status insert(const NewOutboxRow& row);
  // Deletes the rows with these seqs (any order; `deleted` counts those that existed).
  Status delete_delivered(const std::vector<int64_t>& seqs, int64_t* deleted);
  Status remove(int64_t seq);

  // Visits the rows coarsening may merge into windows of `size_s`: seq above `claimed_through`
  // and a window of `size_s` or finer, by series, coarse window and seq.
  Status for_each_coarsenable(int64_t size_s, int64_t claimed_through,
                              const std::function<void(const CoarsenableRow&)>& visit);
  // Adds to `chunks` the union of those rows' distinct values for one series and coarse window,
  // sorted and quoted as at close.
  Status distinct_union(int64_t size_s, int64_t claimed_through, int64_t series_id,
                        int64_t coarse_start, DistinctChunks* chunks);

 private:
  sqlite3* db_ = nullptr;
  int64_t rows_ = 0;
  uint64_t rows_inserted_ = 0;
  Statement insert_, delete_range_, delete_one_, count_, highest_seq_, select_coarsenable_,
      distinct_union_;
};

}  // namespace meterd
