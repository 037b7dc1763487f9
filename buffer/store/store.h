// Store: the durable SQLite buffer (WAL) that holds open windows, the outbox and dead letters.
//
// Threading: one store thread owns the Store and calls commit() every `commit_interval` and
// close_all_windows() at shutdown. mark_delivered() may be called from any thread (the uplink
// hands over the sequence numbers the broker confirmed); they are deleted in the next commit,
// so an outbox row is deleted only after its delivery report succeeded ("deleted only after
// the broker's ack") and never before it was committed ("committed before forgotten").
// mark_dead_letters_sent() is the same for dead letters, which are marked sent rather than
// deleted.
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
//
// The tables are classes of their own, each owning its SQL (open_windows.h, outbox.h, dedup.h,
// dead_letters.h, series.h, meta.h); the Store owns the connection, the transaction and the
// rules that span tables: which revision a delta opens, when a row closes, what a commit does
// in which order (store.cc), merging and closing windows (store_windows.cc), coarsening
// (store_coarsen.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/base/status.h"
#include "buffer/sqlite/live_pages.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/commit_batch.h"
#include "buffer/store/dead_letters.h"
#include "buffer/store/dedup.h"
#include "buffer/store/meta.h"
#include "buffer/store/open_windows.h"
#include "buffer/store/outbox.h"
#include "buffer/store/series.h"
#include "buffer/windows/window_table.h"

namespace meterd {

struct StoreOptions {
  std::string path;
  std::string agent_id;  // empty: keep the buffer's own (default: host name at creation)
  int64_t window_size_s = 60;
  int64_t grace_ms = 10'000;
  int64_t dead_letter_limit = 10'000;
  int64_t dedup_window_ms = 24 * 3600 * 1000LL;
  int64_t max_size_bytes = 0;     // 0: unlimited
  int64_t coarsen_at_rows = 0;    // 0: never merge outbox rows into coarser windows
  int64_t partials_every_ms = 0;  // 0: windows go out when they close, not before
  // How often series with no open window and no outbox row are deleted (0: never).
  int64_t series_gc_interval_ms = 3600 * 1000;
  int64_t dedup_max_bytes = 0;  // 0: unlimited; dedup keys past it are shed, oldest first
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
  Status commit(const CommitBatch& batch, int64_t now_ms, int64_t steady_ms, CommitResult* result);
  Status commit(const CommitBatch& batch, int64_t now_ms, CommitResult* result) {
    return commit(batch, now_ms, now_ms, result);
  }

  // Store thread, at shutdown: closes every open window early (they become revision-0 or late
  // partials like any other) so the outbox can drain before exit.
  Status close_all_windows(int64_t now_ms, CommitResult* result);

  // Any thread: rows the broker confirmed; deleted at the next commit.
  void mark_delivered(const std::vector<int64_t>& seqs);
  // Any thread: dead letters whose records the broker confirmed; marked sent at the next commit
  // (kept for `meterctl dlq list` until evicted, never sent again).
  void mark_dead_letters_sent(const std::vector<int64_t>& ids);

  // Uplink thread: runs `read` (which reads outbox rows and returns the highest seq it read)
  // while no coarsening can run, and records that every row up to that seq may now be in
  // flight: coarsening never merges such a row, since the broker may still confirm it.
  void claim_outbox_rows(const std::function<int64_t()>& read);

  // Store thread: bytes the buffer's live pages take (free pages excluded).
  int64_t used_bytes() { return live_pages_.bytes(); }

  // Store thread, at start-up: visits the series of every open window, so the ingest thread can
  // rebuild its per-window series counts (the cardinality bound).
  Status for_each_open_series(
      const std::function<void(std::string_view identity, int64_t window_start)>& visit) {
    return windows_.for_each_open_series(visit);
  }

  // Store thread: current row counts, for logs and drain decisions.
  // Kept in step with every insert and delete, so commits never count the table.
  int64_t outbox_rows() const { return outbox_.rows(); }
  int64_t dedup_keys() const { return dedup_.keys(); }

  // Any thread: a number that changes once a committed transaction has added rows to the
  // outbox, so the uplink need not query an outbox it found empty until there is news.
  uint64_t outbox_version() const { return outbox_version_.load(std::memory_order_acquire); }
  // Any thread: the same for dead letters.
  uint64_t dead_letter_version() const {
    return dead_letter_version_.load(std::memory_order_acquire);
  }
  // Store thread: rows open now (counted; -1 when the count failed).
  int64_t open_window_rows() { return windows_.rows(); }

  // The dedup table's rules (dedup.h), named here for the store's users and tests.
  static constexpr int64_t kDedupLateAfter_ms = DedupTable::kLateAfter_ms;
  static constexpr int64_t kDedupBytesPerKey = DedupTable::kBytesPerKey;

 private:
  // What a commit changes in memory; put back when its transaction rolls back.
  struct Progress {
    int64_t commit_seq = 0;
    int64_t emitted_through_ms = 0;
    int64_t next_partials_ms = 0;
    int64_t next_series_gc_ms = 0;
    int64_t outbox_rows = 0;
    DedupTable::Mark dedup;
  };
  struct CoarseGroup;  // store_coarsen.cc

  explicit Store(StoreOptions options) : options_(std::move(options)) {}

  // Opening (store.cc).
  Status open_file();
  Status prepare_tables();
  Status load_meta(int64_t now_ms);
  Status save_meta();

  // The steps of a commit, in order (store.cc).
  std::vector<int64_t> take_delivered();
  std::vector<int64_t> take_dead_letters_sent();
  // The dedup clock at `steady_ms` (see "Clocks" above); anchored at the first commit.
  int64_t dedup_clock(int64_t now_ms, int64_t steady_ms);
  // Whether a commit at `now_ms` has work without a batch or deliveries: a window due, dedup
  // keys past their window or over their bound, early partials due, an outbox over coarsen_at,
  // or a wall clock that stepped back.
  bool work_due(int64_t now_ms, int64_t dedup_now_ms) const;
  // After the wall clock stepped back: no open row closes, and no timer fires, later than it
  // would if set now.
  Status follow_clock_step_back(int64_t now_ms);
  // Whether usage (the live pages less the dedup keys' share) has reached max_size_bytes.
  bool over_size_limit();
  // Merges the batch's deltas, admits its keyed events and stores its dead letters.
  Status store_batch(const CommitBatch& batch, int64_t now_ms, int64_t dedup_now_ms,
                     CommitResult* result);
  Status close_early_partials_if_due(int64_t now_ms, CommitResult* result);
  Status collect_series_if_due(int64_t now_ms, CommitResult* result);
  Status coarsen_outbox(CommitResult* result);
  // Reads next_close_ms_ and next_dedup_expiry_ms_ from the tables (after every commit).
  Status refresh_due_times();

  Progress progress() const;
  void restore(const Progress& saved);
  Status in_transaction(const std::function<Status()>& body);

  // Merging and closing windows (store_windows.cc).
  // Merges every entry of `deltas`; a non-finite one (only a merge of batches kept over failed
  // commits can make one) is not stored but added to `refused` as a dead letter.
  Status merge_deltas(const WindowTable& deltas, int64_t now_ms, std::vector<DeadLetter>* refused,
                      CommitResult* result);
  Status merge_delta(std::string_view identity, int64_t window_start, const Accumulator& acc,
                     const DistinctValues& distinct, int64_t now_ms, int64_t on_time_after_ms,
                     CommitResult* result);
  // Adds `acc` to the open window's row, creating it (with `revision` and `closes_at_ms`) if
  // there is none.
  Status merge_window(const WindowKey& key, std::string_view identity, int64_t revision,
                      int64_t closes_at_ms, const Accumulator& acc, CommitResult* result);
  // Moves the window's open row, if there is one (`closed`), to the outbox now, as close_due
  // does for due rows.
  Status close_one(const WindowKey& key, std::string_view identity, bool* closed,
                   CommitResult* result);
  // Moves every row that closes at or before `until_ms` to the outbox.
  Status close_due(int64_t until_ms, CommitResult* result);
  // Writes one open row to the outbox with its distinct values (it stays in open_windows).
  Status close_row(const OpenWindow& row, CommitResult* result);
  // Inserts a closed partial into the outbox: one row per distinct array. The first row is the
  // partial (`revision`, `values`); each further one carries only more distinct values, under a
  // fresh revision, with no events and the partial's MIN, MAX and LATEST, so that every
  // aggregation over the rows equals the partial's.
  Status insert_partial(const WindowKey& key, std::string_view identity, int64_t revision,
                        const Accumulator& values, const std::vector<std::string>& arrays);

  // Coarsening (store_coarsen.cc).
  Status coarsen_to(int64_t size_s, int64_t claimed_through, CommitResult* result);
  Status merge_group(const CoarseGroup& group, int64_t size_s, int64_t claimed_through,
                     int64_t revision);

  StoreOptions options_;
  SqliteDb db_;
  OpenWindowTable windows_;
  OutboxTable outbox_;
  DedupTable dedup_;
  DeadLetterTable dead_letters_;
  SeriesTable series_;
  MetaTable meta_;
  LivePages live_pages_;

  std::string agent_id_;
  std::string buffer_id_;
  int64_t commit_seq_ = 0;   // incremented per commit; names late revisions
  int64_t last_now_ms_ = 0;  // the wall clock of the last commit (to see it step back)
  // The dedup clock's anchor: the wall and steady clocks at the first commit (min: not yet).
  int64_t dedup_anchor_wall_ms_ = std::numeric_limits<int64_t>::min();
  int64_t dedup_anchor_steady_ms_ = 0;
  int64_t emitted_through_ms_ = 0;  // windows closing at or before this may have been emitted
  int64_t next_partials_ms_ = 0;    // when partials_every next closes every open row
  int64_t next_series_gc_ms_ = 0;   // when collect_series_if_due next runs
  // The earliest closes_at_ms of the open windows, and the earliest time a dedup key passes its
  // window (max when none), read after every commit.
  int64_t next_close_ms_ = std::numeric_limits<int64_t>::max();
  int64_t next_dedup_expiry_ms_ = std::numeric_limits<int64_t>::max();

  // Serializes the uplink's outbox reads with coarsening (see claim_outbox_rows).
  std::mutex claim_mutex_;
  int64_t claimed_through_ = 0;  // guarded by claim_mutex_

  std::atomic<uint64_t> outbox_version_{0};
  std::atomic<uint64_t> dead_letter_version_{0};

  std::mutex delivered_mutex_;
  std::vector<int64_t> delivered_;          // guarded by delivered_mutex_
  std::vector<int64_t> dead_letters_sent_;  // guarded by delivered_mutex_
};

}  // namespace meterd
