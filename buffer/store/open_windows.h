// OpenWindowTable: the windows still accumulating, `open_windows`, and the distinct values
// (UNIQUE_COUNT) of those windows, `open_distinct` (FORMAT.md). Each row is one series in one
// window: a revision, when it closes, and the accumulator merged so far.
//
// The table holds rows and answers questions about them; the rules (which revision a delta
// opens, when a row closes, what closing writes to the outbox) are the store's (store.h).
// Store thread only, inside the commit's transaction, except for the start-up reads.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/windows/accumulator.h"

namespace meterd {

// An open row's primary key.
struct WindowKey {
  int64_t series_id = 0;
  int64_t window_start = 0;
  int64_t size_s = 0;
};

// An open row as closing reads it: with its series identity, for the idempotency key.
struct OpenWindow {
  WindowKey key;
  std::string_view identity;  // valid during the visit only
  int64_t revision = 0;
  Accumulator values;
};

class OpenWindowTable {
 public:
  Status prepare(sqlite3* db);

  // Adds `delta` to the open row at `key`, if there is one and its sum stays finite; `added`
  // says whether it did (no row, or a sum that would leave the doubles, leave it unchanged).
  Status add_to_open(const WindowKey& key, const Accumulator& delta, bool* added);
  // Adds `delta` to the row at `key`, creating it with `revision` and `closes_at_ms` if absent.
  Status open_or_add(const WindowKey& key, int64_t revision, int64_t closes_at_ms,
                     const Accumulator& delta);
  // Records a distinct value of the window (a value it already has costs nothing).
  Status add_distinct(const WindowKey& key, std::string_view value);

  // The row at `key`, if there is one (`found`).
  Status read(const WindowKey& key, OpenWindow* row, bool* found);
  // Deletes the row at `key` and its distinct values.
  Status remove(const WindowKey& key);
  // Visits every row that closes at or before `until_ms`, in order of closing; stops at the
  // first error `visit` returns.
  Status for_each_due(int64_t until_ms, const std::function<Status(const OpenWindow&)>& visit);
  // Deletes those rows and their distinct values.
  Status remove_due(int64_t until_ms);
  // The window's distinct values as sorted JSON arrays of strings, cut to fit one record each
  // (distinct_chunks.h; one "[]" if none).
  Status distinct_arrays(const WindowKey& key, std::vector<std::string>* arrays);

  // After the wall clock stepped back to `now_ms`: no row closes later than at its window's
  // on-time close or one `grace_ms` from now, as a row opened now would.
  Status clamp_closes(int64_t now_ms, int64_t grace_ms);
  // The earliest closes_at_ms (the largest int64 when no row is open).
  Status next_close_ms(int64_t* close_ms);
  // Rows open now (-1 when the count failed).
  int64_t rows();
  // Visits the series identity and window start of every open row.
  Status for_each_open_series(
      const std::function<void(std::string_view identity, int64_t window_start)>& visit);

 private:
  sqlite3* db_ = nullptr;
  Statement update_, upsert_, insert_distinct_, select_one_, delete_one_distinct_, delete_one_,
      select_due_, delete_due_distinct_, delete_due_, select_distinct_, clamp_closes_,
      select_next_close_, count_, select_open_series_;
};

}  // namespace meterd
