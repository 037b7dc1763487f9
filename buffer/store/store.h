// Store: the durable SQLite buffer (WAL) that holds open windows, the outbox and dead letters.
//
// Threading: one store thread owns the Store and calls commit() every `commit_interval` and
// close_all_windows() at shutdown. mark_delivered() may be called from any thread (the uplink
// hands over the sequence numbers the broker confirmed); they are deleted in the next commit,
// so an outbox row is deleted only after its delivery report succeeded ("deleted only after
// the broker's ack") and never before it was committed ("committed before forgotten").
//
// Windows: a delta for a window that can still be on time merges into revision 0 of it, which
// closes at window_end + grace. A delta for a window that may already have been emitted opens a
// late partial whose revision is the current commit's sequence number (unique per buffer), and
// which closes `grace` later (or at the window's on-time close, if that is later still). Closing
// moves a row into the outbox with its idempotency key (made of the buffer's random id, so no
// other buffer can name a partial alike), in the same transaction. With `partials_every` set,
// every open row is also closed that often, early, exactly as at shutdown: the window counts as
// emitted, so its later events open new revisions. A merge that would make a row's sum
// non-finite closes that row first and opens a new revision for the delta: every record stays
// finite and no commit fails because of one series' data. See FORMAT.md.
//
// Clocks: windows close by the wall clock as it is now (a clock stepped forward and back must
// not hold windows open until real time catches up; emitted_through_ms, persisted, is what keeps
// revision 0 unique). Dedup keys age by a clock that cannot jump: the wall clock at the first
// commit plus the steady (monotonic) time since, so a wall clock stepped forward does not expire
// a day of keys at once.
//
// Coarsening: when the outbox holds more than `coarsen_at_rows` (a long broker outage), rows no
// process has read yet are merged, per series, into hourly windows carrying their window size
// (see FORMAT.md): the outbox grows by at most one row per series and hour of outage, and
// hourly and daily totals stay exact. Every row that existed when the buffer was opened counts
// as read: an earlier process may have handed it to the producer before it died.
//
// Size limits: `max_size_bytes` guards usage: past it (the live pages less the dedup keys' share)
// a commit refuses the batch's new events (CommitResult::refused); it still closes windows and
// deletes delivered rows, so the agent keeps forwarding and accepts again as soon as delivery
// frees space. Dedup keys have a bound of their own (`dedup_max_bytes`): past it the oldest keys
// are forgotten, counted, and the horizon they still cover is reported. SQLite's max_page_count
// is set a little above the sum as a hard stop, so the file never outgrows it even by a large
// batch.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "buffer/windows/keyed_events.h"
#include "buffer/identity/series_id_cache.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/base/status.h"
#include "buffer/windows/window_table.h"

namespace meterd {

struct StoreOptions {
  std::string path;
  std::string agent_id;  // empty: keep the buffer's own (default: host name at creation)
  int64_t window_size_s = 60;
  int64_t grace_ms = 10'000;
  int64_t dead_letter_limit = 10'000;
  int64_t dedup_window_ms = 24 * 3600 * 1000LL;
  int64_t max_size_bytes = 0;  // 0: unlimited
  int64_t coarsen_at_rows = 0;  // 0: never merge outbox rows into coarser windows
  int64_t partials_every_ms = 0;  // 0: windows go out when they close, not before
  // How often series with no open window and no outbox row are deleted (0: never).
  int64_t series_gc_interval_ms = 3600 * 1000;
  int64_t dedup_max_bytes = 0;  // 0: unlimited; dedup keys past it are shed, oldest first
};

struct DeadLetter {
  int64_t received_ms = 0;
  std::string listener;
  std::string reason;
  std::string raw;
};

// What the ingest thread hands over at each commit.
struct CommitBatch {
  WindowTable deltas;                    // fire-and-forget transports
  KeyedEvents keyed;                     // acknowledged transports, deduplicated by the store
  std::vector<DeadLetter> dead_letters;
  uint64_t generation = 0;               // the ingest thread's batch number (the last merged)
  int64_t events = 0;                    // events that matched a meter, for counting refusals

  bool empty() const { return deltas.empty() && keyed.empty() && dead_letters.empty(); }
  void merge_from(CommitBatch&& later);
};

struct CommitResult {
  int64_t windows_updated = 0;
  int64_t windows_closed = 0;
  int64_t rows_deleted = 0;
  int64_t dead_letters_evicted = 0;
  int64_t duplicates_dropped = 0;
  bool refused = false;  // the buffer was full: the batch's events were not stored
  int64_t rows_coarsened = 0;  // outbox rows merged into coarser windows
  int64_t dedup_keys_shed = 0;  // dedup keys forgotten early: over dedup_max_bytes
  int64_t dedup_horizon_ms = 0;  // after shedding: how far back the oldest kept key reaches
  int64_t windows_split = 0;     // rows closed early so that a merge kept the sum finite
  int64_t deltas_refused = 0;    // non-finite deltas (from retried batches) kept as dead letters
  int64_t series_collected = 0;  // series rows deleted: no open window, nothing in the outbox
};

class Store {
 public:
  // Opens or creates the buffer, applies the schema and loads or creates the agent id.
  static Status open(const StoreOptions& options, int64_t now_ms, std::unique_ptr<Store>* out);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& agent_id() const { return agent_id_; }
  // Random, made when the buffer was created; part of every idempotency key (idempotency_key.h).
  const std::string& buffer_id() const { return buffer_id_; }
  const std::string& path() const { return options_.path; }

  // Store thread. Merges `batch`, closes windows due at `now_ms` into the outbox and deletes
  // delivered rows, all in one transaction. On failure nothing of it is applied and `batch` is
  // left intact for the caller to retry.
  // `steady_ms` is a monotonic clock (any origin) that dedup keys age by; tests that step only
  // the wall clock pass the same value twice.
  Status commit(const CommitBatch& batch, int64_t now_ms, int64_t steady_ms,
                CommitResult* result);
  Status commit(const CommitBatch& batch, int64_t now_ms, CommitResult* result) {
    return commit(batch, now_ms, now_ms, result);
  }

  // Store thread, at shutdown: closes every open window early (they become revision-0 or late
  // partials like any other) so the outbox can drain before exit.
  Status close_all_windows(int64_t now_ms, CommitResult* result);

  // Any thread: rows the broker confirmed; deleted at the next commit.
  void mark_delivered(const std::vector<int64_t>& seqs);

  // Uplink thread: runs `read` (which reads outbox rows and returns the highest seq it read)
  // while no coarsening can run, and records that every row up to that seq may now be in
  // flight: coarsening never merges such a row, since the broker may still confirm it.
  void claim_outbox_rows(const std::function<int64_t()>& read);

  // Store thread: bytes the buffer's live pages take (free pages excluded).
  int64_t used_bytes();

  // Store thread, at start-up: visits the series of every open window, so the ingest thread can
  // rebuild its per-window series counts (the cardinality bound).
  Status for_each_open_series(
      const std::function<void(std::string_view identity, int64_t window_start)>& visit);

  // Store thread: current row counts, for logs and drain decisions.
  // Kept in step with every insert and delete, so commits never count the table.
  int64_t outbox_rows() const { return outbox_rows_; }
  int64_t dedup_keys() const { return dedup_keys_; }

  // Any thread: a number that changes once a committed transaction has added rows to the
  // outbox, so the uplink need not query an outbox it found empty until there is news.
  uint64_t outbox_version() const { return outbox_version_.load(std::memory_order_acquire); }
  int64_t open_window_rows();

 private:
  // Expired keys deleted per commit, and keys shed per commit over the bound.
  static constexpr int64_t kDedupExpiredPerCommit = 10'000;
  static constexpr int64_t kDedupShedPerCommit = 100'000;

 public:
  // An event that arrives more than this after its own time has its key expire by arrival
  // (FORMAT.md, `dedup`); other keys expire by event time, this much later than dedup_window.
  static constexpr int64_t kDedupLateAfter_ms = 10 * 60 * 1000;
  // What one key takes in the buffer (key, seen_ms and B-tree overhead; measured by the unit
  // test "dedup keys take the bytes the bound assumes"): dedup_max_bytes / this is the key bound.
  static constexpr int64_t kDedupBytesPerKey = 48;

 private:

  explicit Store(StoreOptions options) : options_(std::move(options)) {}
  Status prepare_statements();
  Status load_meta(int64_t now_ms);
  Status series_id(std::string_view identity, int64_t* id);
  Status merge_deltas(const WindowTable& deltas, int64_t now_ms, CommitResult* result);
  // Adds `acc` to the open window's row, creating it (with `revision` and `closes_at_ms`) if
  // there is none.
  Status merge_window(int64_t series_id, std::string_view identity, int64_t window_start,
                      int64_t revision, int64_t closes_at_ms, const Accumulator& acc,
                      CommitResult* result);
  // Moves the window's open row, if there is one (`closed`), to the outbox now, as close_due
  // does for due rows.
  Status close_one(int64_t series_id, std::string_view identity, int64_t window_start,
                   bool* closed, CommitResult* result);
  Status admit_keyed(const KeyedEvents& keyed, int64_t dedup_now_ms, WindowTable* admitted,
                     CommitResult* result);
  // Deletes the keys past their dedup window (at most kDedupExpiredPerCommit of each kind).
  Status maintain_dedup(int64_t dedup_now_ms);
  // Deletes the oldest keys over the bound (dedup_max_bytes), at most kDedupShedPerCommit.
  Status shed_dedup_keys(int64_t dedup_now_ms, CommitResult* result);
  // The oldest key of each kind: a timed key's event time, a by-arrival key's seen time (max
  // when none).
  Status oldest_dedup_keys(int64_t* oldest_timed_ms, int64_t* oldest_by_arrival_ms);
  int64_t dedup_max_keys() const;
  // The dedup clock at `steady_ms` (store.h, "Clocks"); anchored at the first commit.
  int64_t dedup_clock(int64_t now_ms, int64_t steady_ms);
  // After the wall clock stepped back: no open row closes later than it would if opened now.
  Status clamp_closes_after_clock_step(int64_t now_ms);
  Status add_dead_letters(const std::vector<DeadLetter>& letters, CommitResult* result);
  Status close_due(int64_t until_ms, CommitResult* result);
  // The distinct values of one open window as sorted JSON arrays of strings, cut to fit one
  // record each (distinct_chunks.h; one "[]" if none).
  Status distinct_arrays(int64_t series_id, int64_t window_start, int64_t size_s,
                         std::vector<std::string>* arrays);
  // Inserts a closed partial into the outbox: one row per distinct array. The first row is the
  // partial (`revision`, `values`); each further one carries only more distinct values, under a
  // fresh revision, with no events and the partial's MIN, MAX and LATEST, so that every
  // aggregation over the rows equals the partial's.
  Status insert_partial(int64_t series_id, std::string_view identity, int64_t window_start,
                        int64_t size_s, int64_t revision, const Accumulator& values,
                        const std::vector<std::string>& arrays);
  Status delete_delivered(const std::vector<int64_t>& seqs, CommitResult* result);
  Status save_meta();
  Status count_outbox();  // once, at open
  // Whether a commit at `now_ms` has work without a batch or deliveries: a window due, dedup
  // keys past their window or over their bound, early partials due, an outbox over coarsen_at,
  // or a wall clock that stepped back.
  bool work_due(int64_t now_ms, int64_t dedup_now_ms) const;
  // Reads next_close_ms_ and next_dedup_expiry_ms_ from the tables (after every commit).
  Status refresh_due_times();
  // Deletes the series rows no open window and no outbox row refers to, and forgets the cached
  // ids (a series seen again gets a new row). Idempotency keys are made of the identity, not
  // the id, so a series' keys do not change with its row.
  Status collect_series(CommitResult* result);
  Status coarsen_outbox(CommitResult* result);
  Status coarsen_to(int64_t size_s, int64_t claimed_through, CommitResult* result);
  Status in_transaction(const std::function<Status()>& body);

  StoreOptions options_;
  SqliteDb db_;
  std::string agent_id_;
  std::string buffer_id_;
  int64_t commit_seq_ = 0;          // incremented per commit; names late revisions
  int64_t last_now_ms_ = 0;         // the wall clock of the last commit (to see it step back)
  // The dedup clock's anchor: the wall and steady clocks at the first commit (min: not yet).
  int64_t dedup_anchor_wall_ms_ = std::numeric_limits<int64_t>::min();
  int64_t dedup_anchor_steady_ms_ = 0;
  int64_t dedup_keys_ = 0;  // rows in the dedup table, kept in step and saved in meta
  // Timed keys below this (a key blob) are all by-arrival keys: expiry scans start here.
  std::string timed_expiry_floor_;
  int64_t emitted_through_ms_ = 0;   // windows closing at or before this may have been emitted
  int64_t next_partials_ms_ = 0;     // when partials_every next closes every open row
  int64_t next_series_gc_ms_ = 0;    // when collect_series next runs
  int64_t outbox_rows_ = 0;          // rows in the outbox table, as of the last statement
  // The earliest closes_at_ms of the open windows, and the earliest time a dedup key passes its
  // window (max when none), read after every commit.
  int64_t next_close_ms_ = std::numeric_limits<int64_t>::max();
  int64_t next_dedup_expiry_ms_ = std::numeric_limits<int64_t>::max();
  SeriesIdCache series_ids_;  // cache of the series table

  Statement find_series_, insert_series_, update_window_, upsert_window_, insert_distinct_,
      select_due_, select_distinct_, insert_outbox_, delete_due_distinct_, delete_due_,
      delete_outbox_, insert_dedup_, expire_timed_dedup_, expire_by_arrival_dedup_,
      insert_dead_letter_, evict_dead_letters_, save_meta_, count_outbox_, count_windows_,
      select_open_series_, page_count_, freelist_count_, select_next_close_,
      select_oldest_timed_dedup_, select_oldest_by_arrival_dedup_, collect_series_,
      shed_timed_dedup_, shed_by_arrival_dedup_, count_dedup_, clamp_closes_, select_one_window_,
      delete_one_distinct_, delete_one_window_;
  int64_t page_size_ = 4096;

  // Serializes the uplink's outbox reads with coarsening (see claim_outbox_rows).
  std::mutex claim_mutex_;
  int64_t claimed_through_ = 0;  // guarded by claim_mutex_

  bool outbox_grew_ = false;  // this transaction inserted outbox rows
  std::vector<DeadLetter> refused_deltas_;  // this transaction's non-finite deltas
  std::atomic<uint64_t> outbox_version_{0};

  std::mutex delivered_mutex_;
  std::vector<int64_t> delivered_;  // guarded by delivered_mutex_
};

}  // namespace meterd
