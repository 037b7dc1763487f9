// OutboxReader: the uplink thread's own read connection to the buffer's outbox.
//
// WAL mode lets it read committed rows while the store thread writes. It never writes: rows are
// deleted by the store once the uplink reports them delivered (Store::mark_delivered). Its
// columns are the store's (columns.h). Uplink thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer/windows/accumulator.h"
#include "buffer/identity/series_identity.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/base/status.h"

namespace meterd {

// One closed partial, as it will be sent.
struct OutboxRow {
  int64_t seq = 0;
  std::string idempotency_key;
  SeriesParts series;
  int64_t window_start = 0;
  int64_t window_size_s = 0;
  int64_t revision = 0;
  Accumulator values;
  // UNIQUE_COUNT: this partial's distinct values as a JSON array of strings, as the store wrote
  // it (sorted, at most 256 KiB: distinct_chunks.h); "[]" for other meters.
  std::string distinct_values_json = "[]";
};

class OutboxReader {
 public:
  static Status open(const std::string& path, std::unique_ptr<OutboxReader>* out);

  // Replaces `rows` with up to `limit` rows with seq > `after_seq`, in seq order, reusing the
  // storage of the rows it held (the uplink reads thousands of rows a second into one vector).
  // Stops after the row that brings their distinct values to `max_distinct_bytes`: a
  // UNIQUE_COUNT row may hold 256 KiB of them, and a read of thousands would take gigabytes.
  static constexpr size_t kMaxDistinctBytesPerRead = 16 << 20;
  Status read_after(int64_t after_seq, int limit, std::vector<OutboxRow>* rows,
                    size_t max_distinct_bytes = kMaxDistinctBytesPerRead);
  // Reads one row; `found` is false once it was deleted.
  Status read_one(int64_t seq, OutboxRow* row, bool* found);

 private:
  OutboxReader() = default;
  Status read_row(Statement& stmt, OutboxRow* row);

  SqliteDb db_;
  Statement read_after_, read_one_;
};

}  // namespace meterd
