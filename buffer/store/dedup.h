// DedupTable: the `dedup` keys of acknowledged events (FORMAT.md, `dedup`), so a client that
// resends after a lost acknowledgement is counted once. An event is admitted only if its key is
// new, in the same transaction that merges its contributions.
//
// Keys expire in two kinds, so that nearly every key still expires as a range: a timed key (the
// event arrived within kLateAfter_ms of its own time) by its event time, a range at the head of
// the key order; a by-arrival key (no time, or a late event) by when it was seen, through a
// partial index. Past the bound (`max_bytes`) the oldest keys are shed, whatever their age.
// Times are the dedup clock's (store.h, "Clocks").
//
// The key count is kept in memory in step with every insert and delete (counting the table
// would read all of it) and saved in meta by the store. Store thread only, inside the commit's
// transaction; after a rollback the store puts back the mark() it took before.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/windows/keyed_events.h"
#include "buffer/windows/window_table.h"

namespace meterd {

class DedupTable {
 public:
  // An event that arrives more than this after its own time has its key expire by arrival;
  // other keys expire by event time, this much later than the dedup window.
  static constexpr int64_t kLateAfter_ms = 10 * 60 * 1000;
  // What one key takes in the buffer (key, seen_ms and B-tree overhead; measured by the unit
  // test "dedup keys take the bytes the bound assumes"): max_bytes / this is the key bound.
  static constexpr int64_t kBytesPerKey = 48;
  // Expired keys deleted per call of expire() (of each kind), and keys shed per shed_oldest():
  // a backlog of old keys never makes one commit slow.
  static constexpr int64_t kExpiredPerCommit = 10'000;
  static constexpr int64_t kShedPerCommit = 100'000;

  // `window_ms`: how long a key is kept after it was first seen; `max_bytes`: the bound (0:
  // none).
  Status prepare(sqlite3* db, int64_t window_ms, int64_t max_bytes);
  // Takes the count saved in meta, or counts the table once when there is none.
  Status start(std::optional<int64_t> saved_keys);

  int64_t keys() const { return keys_; }
  bool over_bound() const { return keys_ > max_keys_; }

  // Adds to `admitted` the contributions of every event in `keyed` whose key is new at
  // `now_ms` (recording the key), counting the others in `duplicates`.
  Status admit(const KeyedEvents& keyed, int64_t now_ms, WindowTable* admitted,
               int64_t* duplicates);
  // Deletes keys past the dedup window at `now_ms` (at most kExpiredPerCommit of each kind).
  Status expire(int64_t now_ms);
  // Deletes the oldest keys over the bound, at most kShedPerCommit; `shed` says how many. If
  // any went, `horizon_ms` is how far back from `now_ms` the oldest kept key reaches.
  Status shed_oldest(int64_t now_ms, int64_t* shed, int64_t* horizon_ms);
  // When the oldest key passes its window (the largest int64 when there is none).
  Status next_expiry_ms(int64_t* due_ms);

  // The in-memory state a rolled-back transaction must restore.
  struct Mark {
    int64_t keys = 0;
    std::string expiry_floor;
  };
  Mark mark() const { return Mark{keys_, timed_expiry_floor_}; }
  void roll_back_to(const Mark& mark);

 private:
  // The oldest key of each kind: a timed key's event time, a by-arrival key's seen time (the
  // largest int64 when none).
  Status oldest_keys(int64_t* oldest_timed_ms, int64_t* oldest_by_arrival_ms);
  Status expire_timed(int64_t now_ms);
  Status expire_by_arrival(int64_t now_ms);

  sqlite3* db_ = nullptr;
  int64_t window_ms_ = 0;
  int64_t max_keys_ = 0;
  int64_t keys_ = 0;
  // Timed keys below this (a key blob) are all by-arrival keys: expiry scans start here.
  std::string timed_expiry_floor_;
  Statement insert_, expire_timed_, expire_by_arrival_, select_oldest_timed_,
      select_oldest_by_arrival_, shed_timed_, shed_by_arrival_, count_;
};

}  // namespace meterd
