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
// moves a row into the outbox with its idempotency key, in the same transaction. With
// `partials_every` set, every open row is also closed that often, early, exactly as at shutdown:
// the window counts as emitted, so its later events open new revisions. See FORMAT.md.
//
// Coarsening: when the outbox holds more than `coarsen_at_rows` (a long broker outage), rows the
// uplink has not read yet are merged, per series, into hourly windows carrying their window size
// (see FORMAT.md): the outbox grows by at most one row per series and hour of outage, and
// hourly and daily totals stay exact.
//
// Size limit: when the live pages pass `max_size_bytes`, a commit first forgets dedup keys more
// than an hour old (before their dedup window ends: retries come within minutes, and keys of a
// day of acknowledged events can outgrow the whole limit), and only if that frees too little
// refuses the batch's new events (CommitResult::refused). It still closes windows and deletes
// delivered rows, so the agent keeps forwarding and accepts again as soon as delivery frees
// space. SQLite's max_page_count is set a little above the limit as a hard stop, so the file
// never outgrows it even by a large batch.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "buffer/keyed_events.h"
#include "buffer/series_id_cache.h"
#include "buffer/sqlite_handle.h"
#include "buffer/status.h"
#include "buffer/window_table.h"

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
  int64_t dedup_keys_shed = 0;  // dedup keys forgotten early because the buffer was full
  int64_t series_collected = 0;  // series rows deleted: no open window, nothing in the outbox
};

class Store {
 public:
  // Opens or creates the buffer, applies the schema and loads or creates the agent id.
  static Status open(const StoreOptions& options, int64_t now_ms, std::unique_ptr<Store>* out);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& agent_id() const { return agent_id_; }
  const std::string& path() const { return options_.path; }

  // Store thread. Merges `batch`, closes windows due at `now_ms` into the outbox and deletes
  // delivered rows, all in one transaction. On failure nothing of it is applied and `batch` is
  // left intact for the caller to retry.
  Status commit(const CommitBatch& batch, int64_t now_ms, CommitResult* result);

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

  // Any thread: a number that changes once a committed transaction has added rows to the
  // outbox, so the uplink need not query an outbox it found empty until there is news.
  uint64_t outbox_version() const { return outbox_version_.load(std::memory_order_acquire); }
  int64_t open_window_rows();

 private:
  // Expired keys deleted per commit; keys shed per commit from a full buffer, and the age below
  // which a key is never shed.
  static constexpr int64_t kDedupExpiredPerCommit = 10'000;
  static constexpr int64_t kDedupShedPerCommit = 100'000;
  static constexpr int64_t kDedupKeptWhenFull_ms = 3'600'000;

  explicit Store(StoreOptions options) : options_(std::move(options)) {}
  Status prepare_statements();
  Status load_meta(int64_t now_ms);
  Status series_id(std::string_view identity, int64_t* id);
  Status merge_deltas(const WindowTable& deltas, int64_t now_ms, CommitResult* result);
  // Adds `acc` to the open window's row, creating it (with `revision` and `closes_at_ms`) if
  // there is none.
  Status merge_window(int64_t series_id, int64_t window_start, int64_t revision,
                      int64_t closes_at_ms, const Accumulator& acc);
  Status admit_keyed(const KeyedEvents& keyed, int64_t now_ms, WindowTable* admitted,
                     CommitResult* result);
  // Deletes at most `limit` dedup keys of each kind older than `cutoff_ms` (by event time, or
  // by when they were seen for events without one), adding the count to `deleted`.
  Status expire_dedup_keys(int64_t cutoff_ms, int64_t limit, int64_t* deleted);
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
  // keys past their window, early partials due, or an outbox over coarsen_at.
  bool work_due(int64_t now_ms) const;
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
  int64_t commit_seq_ = 0;          // incremented per commit; names late revisions
  int64_t clock_high_water_ms_ = 0;  // the store's clock never runs backwards
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
      delete_outbox_, insert_dedup_, expire_timed_dedup_, expire_timeless_dedup_,
      insert_dead_letter_, evict_dead_letters_, save_meta_, count_outbox_, count_windows_,
      select_open_series_, page_count_, freelist_count_, select_next_close_,
      select_oldest_timed_dedup_, select_oldest_timeless_dedup_, collect_series_;
  int64_t page_size_ = 4096;

  // Serializes the uplink's outbox reads with coarsening (see claim_outbox_rows).
  std::mutex claim_mutex_;
  int64_t claimed_through_ = 0;  // guarded by claim_mutex_

  bool outbox_grew_ = false;  // this transaction inserted outbox rows
  std::atomic<uint64_t> outbox_version_{0};

  std::mutex delivered_mutex_;
  std::vector<int64_t> delivered_;  // guarded by delivered_mutex_
};

}  // namespace meterd
