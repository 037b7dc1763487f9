// The SQLite buffer's store: opening it, and the commit transaction that merges deltas, closes
// due windows into the outbox and deletes delivered rows, each step a call into the table that
// holds its rows (see store.h and FORMAT.md, "One commit").
#include "buffer/store/store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "buffer/identity/idempotency_key.h"
#include "buffer/sqlite/schema.h"

namespace meterd {
namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "meterd";
  return name;
}

}  // namespace

Status Store::open(const StoreOptions& options, int64_t now_ms, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store(options));
  if (Status s = store->open_file(); !s) return s;
  if (Status s = store->prepare_tables(); !s) return s;
  if (Status s = store->load_meta(now_ms); !s) return s;
  // Every row that was ever in the outbox may have been handed to a producer by an earlier
  // process (its confirmations lost with it), so coarsening leaves them all be.
  if (Status s = store->outbox_.highest_seq_ever(&store->claimed_through_); !s) return s;
  if (Status s = store->refresh_due_times(); !s) return s;
  *out = std::move(store);
  return Status::ok();
}

Status Store::open_file() {
  if (Status s = open_database(options_.path, false, &db_); !s) return s;
  // WAL lets the uplink read the outbox while the store writes; FULL makes every commit
  // survive power loss, which acknowledged clients are promised.
  if (Status s = exec(db_.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s) {
    return s;
  }
  if (Status s = apply_schema(db_.get()); !s) return s;
  if (options_.max_size_bytes <= 0) return Status::ok();
  // The hard stop: 25% above the soft limit, for the closing and bookkeeping of a full buffer.
  // The dedup keys' own bound is added, as they are held to it separately.
  int64_t hard_pages = (options_.max_size_bytes + options_.dedup_max_bytes) * 5 / 4 / 4096 + 64;
  return exec(db_.get(), fmt::format("PRAGMA max_page_count = {}", hard_pages));
}

Status Store::prepare_tables() {
  sqlite3* db = db_.get();
  Status s = windows_.prepare(db);
  if (s) s = outbox_.open(db);
  if (s) s = dedup_.prepare(db, options_.dedup_window_ms, options_.dedup_max_bytes);
  if (s) s = dead_letters_.prepare(db);
  if (s) s = series_.prepare(db);
  if (s) s = meta_.prepare(db);
  if (s) s = live_pages_.prepare(db);
  return s;
}

Status Store::load_meta(int64_t now_ms) {
  StoredMeta stored;
  if (Status s = meta_.load(&stored); !s) return s;
  agent_id_ = options_.agent_id.empty() ? stored.agent_id : options_.agent_id;
  if (agent_id_.empty()) agent_id_ = host_name();
  // A new buffer, or one from before buffer ids: its outbox rows keep the keys they have.
  buffer_id_ = stored.buffer_id.empty() ? new_buffer_id() : stored.buffer_id;
  commit_seq_ = stored.commit_seq;
  emitted_through_ms_ = stored.emitted_through_ms;
  if (Status s = dedup_.start(stored.dedup_keys); !s) return s;
  last_now_ms_ = now_ms;

  // A new window size must not reuse revision 0 of a window the old size already emitted with
  // the same start: every window of the new size that starts before now counts as emitted.
  int64_t size_s = options_.window_size_s;
  if (stored.window_size_s != 0 && stored.window_size_s != size_s) {
    int64_t now_s = now_ms / 1000;
    int64_t last_end_s = (now_s / size_s + 1) * size_s;
    emitted_through_ms_ = std::max(emitted_through_ms_, last_end_s * 1000 + options_.grace_ms);
  }
  next_partials_ms_ = now_ms + options_.partials_every_ms;
  next_series_gc_ms_ = now_ms + options_.series_gc_interval_ms;
  return in_transaction([this] { return save_meta(); });
}

Status Store::save_meta() {
  StoredMeta meta;
  meta.agent_id = agent_id_;
  meta.buffer_id = buffer_id_;
  meta.commit_seq = commit_seq_;
  meta.dedup_keys = dedup_.keys();
  meta.emitted_through_ms = emitted_through_ms_;
  meta.window_size_s = options_.window_size_s;
  return meta_.save(meta);
}

Status Store::commit(const CommitBatch& batch, int64_t now_ms, int64_t steady_ms,
                     CommitResult* result) {
  *result = CommitResult{};
  std::vector<int64_t> delivered = take_delivered();
  std::vector<int64_t> letters_sent = take_dead_letters_sent();
  const int64_t dedup_now = dedup_clock(now_ms, steady_ms);
  // An idle agent writes nothing. With no events, no deliveries and nothing due, a transaction
  // would only rewrite the meta row: a WAL frame and an fsync every commit_interval, 40 KiB/s
  // (3 GB a day) from a sidecar with nothing to do.
  if (batch.empty() && delivered.empty() && letters_sent.empty() &&
      !work_due(now_ms, dedup_now)) {
    return Status::ok();
  }
  const Progress before = progress();
  // Coarsening must not only merge rows the uplink has not read, it must also commit before the
  // uplink reads again: a read between the merge and the COMMIT would still see (and send) the
  // merged rows. So the claim mutex is held for the whole transaction.
  std::unique_lock claim(claim_mutex_, std::defer_lock);
  if (options_.coarsen_at_rows > 0) claim.lock();
  Status status = in_transaction([&] {
    ++commit_seq_;
    Status s = follow_clock_step_back(now_ms);
    if (s) s = dedup_.expire(dedup_now);
    // Usage is held to max_size; the dedup keys to their own bound (shed below).
    result->refused = over_size_limit();
    if (s && !result->refused) s = store_batch(batch, now_ms, dedup_now, result);
    // After the admissions, so the bound holds at every COMMIT.
    if (s) s = dedup_.shed_oldest(dedup_now, &result->dedup_keys_shed, &result->dedup_horizon_ms);
    if (s) s = close_due(now_ms, result);
    if (s) s = close_early_partials_if_due(now_ms, result);
    if (s) s = outbox_.delete_delivered(delivered, &result->rows_deleted);
    if (s) s = dead_letters_.mark_sent(letters_sent);
    if (s) s = collect_series_if_due(now_ms, result);
    if (s) s = coarsen_outbox(result);
    if (s) s = save_meta();
    return s;
  });
  // After a rollback too: the windows are then as they were before. A failure here is not the
  // commit's: once COMMIT succeeded the batch is in the buffer, and reporting it failed would
  // have it committed again and counted twice. The due times are then unknown (the next commit
  // runs whatever it holds, and reads them again).
  refresh_due_times();
  if (!status) {
    mark_delivered(delivered);  // rolled back: delete them next time
    mark_dead_letters_sent(letters_sent);
    restore(before);
  } else {
    last_now_ms_ = now_ms;
  }
  return status;
}

std::vector<int64_t> Store::take_delivered() {
  std::vector<int64_t> delivered;
  std::lock_guard lock(delivered_mutex_);
  delivered.swap(delivered_);
  return delivered;
}

int64_t Store::dedup_clock(int64_t now_ms, int64_t steady_ms) {
  if (dedup_anchor_wall_ms_ == std::numeric_limits<int64_t>::min()) {
    dedup_anchor_wall_ms_ = now_ms;
    dedup_anchor_steady_ms_ = steady_ms;
  }
  return dedup_anchor_wall_ms_ + (steady_ms - dedup_anchor_steady_ms_);
}

bool Store::work_due(int64_t now_ms, int64_t dedup_now_ms) const {
  return now_ms >= next_close_ms_ || dedup_now_ms >= next_dedup_expiry_ms_ ||
         now_ms < last_now_ms_ || dedup_.over_bound() ||
         (options_.partials_every_ms > 0 && now_ms >= next_partials_ms_) ||
         (options_.coarsen_at_rows > 0 && outbox_.rows() > options_.coarsen_at_rows);
}

Status Store::follow_clock_step_back(int64_t now_ms) {
  if (now_ms >= last_now_ms_) return Status::ok();
  // Timers set by the later clock would hold rows open until it caught up.
  Status s = windows_.clamp_closes(now_ms, options_.grace_ms);
  next_partials_ms_ = std::min(next_partials_ms_, now_ms + options_.partials_every_ms);
  next_series_gc_ms_ = std::min(next_series_gc_ms_, now_ms + options_.series_gc_interval_ms);
  return s;
}

bool Store::over_size_limit() {
  return options_.max_size_bytes > 0 &&
         used_bytes() - dedup_.keys() * kDedupBytesPerKey >= options_.max_size_bytes;
}

Status Store::store_batch(const CommitBatch& batch, int64_t now_ms, int64_t dedup_now_ms,
                          CommitResult* result) {
  std::vector<DeadLetter> refused;  // non-finite deltas
  Status s = merge_deltas(batch.deltas, now_ms, &refused, result);
  WindowTable admitted;
  if (s) s = dedup_.admit(batch.keyed, dedup_now_ms, &admitted, &result->duplicates_dropped);
  if (s) s = merge_deltas(admitted, now_ms, &refused, result);
  const int64_t limit = options_.dead_letter_limit;
  if (s) s = dead_letters_.add(batch.dead_letters, limit, &result->dead_letters_evicted);
  if (s) s = dead_letters_.add(refused, limit, &result->dead_letters_evicted);
  return s;
}

Status Store::close_early_partials_if_due(int64_t now_ms, CommitResult* result) {
  if (options_.partials_every_ms <= 0 || now_ms < next_partials_ms_) return Status::ok();
  // Early partials: every open row goes out now, as at shutdown (see store.h).
  Status s = close_due(std::numeric_limits<int64_t>::max(), result);
  if (s) next_partials_ms_ = now_ms + options_.partials_every_ms;
  return s;
}

Status Store::collect_series_if_due(int64_t now_ms, CommitResult* result) {
  if (options_.series_gc_interval_ms <= 0 || now_ms < next_series_gc_ms_) return Status::ok();
  Status s = series_.collect_unused(&result->series_collected);
  next_series_gc_ms_ = now_ms + options_.series_gc_interval_ms;
  return s;
}

Status Store::refresh_due_times() {
  // On an error the next commit runs whatever it holds, as it did before idle commits were
  // skipped.
  next_close_ms_ = next_dedup_expiry_ms_ = std::numeric_limits<int64_t>::min();
  int64_t next_close = std::numeric_limits<int64_t>::max();
  int64_t next_expiry = std::numeric_limits<int64_t>::max();
  Status status = windows_.next_close_ms(&next_close);
  if (status) status = dedup_.next_expiry_ms(&next_expiry);
  if (!status) return status;
  next_close_ms_ = next_close;
  next_dedup_expiry_ms_ = next_expiry;
  return Status::ok();
}

Status Store::close_all_windows(int64_t, CommitResult* result) {
  *result = CommitResult{};
  const Progress before = progress();
  Status status = in_transaction([&] {
    Status s = close_due(std::numeric_limits<int64_t>::max(), result);
    if (s) s = save_meta();
    return s;
  });
  if (!status) restore(before);
  refresh_due_times();  // as in commit(): its failure does not undo the transaction
  return status;
}

void Store::mark_delivered(const std::vector<int64_t>& seqs) {
  std::lock_guard lock(delivered_mutex_);
  delivered_.insert(delivered_.end(), seqs.begin(), seqs.end());
}

void Store::mark_dead_letters_sent(const std::vector<int64_t>& ids) {
  std::lock_guard lock(delivered_mutex_);
  dead_letters_sent_.insert(dead_letters_sent_.end(), ids.begin(), ids.end());
}

std::vector<int64_t> Store::take_dead_letters_sent() {
  std::vector<int64_t> ids;
  std::lock_guard lock(delivered_mutex_);
  ids.swap(dead_letters_sent_);
  return ids;
}

Store::Progress Store::progress() const {
  return Progress{commit_seq_,        emitted_through_ms_, next_partials_ms_,
                  next_series_gc_ms_, outbox_.rows(),      dedup_.mark()};
}

void Store::restore(const Progress& saved) {
  commit_seq_ = saved.commit_seq;
  emitted_through_ms_ = saved.emitted_through_ms;
  next_partials_ms_ = saved.next_partials_ms;
  next_series_gc_ms_ = saved.next_series_gc_ms;
  outbox_.restore_rows(saved.outbox_rows);
  dedup_.roll_back_to(saved.dedup);
}

Status Store::in_transaction(const std::function<Status()>& body) {
  if (Status s = exec(db_.get(), "BEGIN IMMEDIATE"); !s) return s;
  const uint64_t inserted_before = outbox_.rows_inserted();
  const uint64_t letters_before = dead_letters_.rows_inserted();
  Status status = body();
  if (status) status = exec(db_.get(), "COMMIT");
  if (!status) {
    exec(db_.get(), "ROLLBACK");
    // Ids handed out inside the rolled-back transaction no longer exist.
    series_.forget_cached();
    return status;
  }
  // After COMMIT: a reader that sees the new version sees the rows.
  if (outbox_.rows_inserted() != inserted_before) {
    outbox_version_.fetch_add(1, std::memory_order_release);
  }
  if (dead_letters_.rows_inserted() != letters_before) {
    dead_letter_version_.fetch_add(1, std::memory_order_release);
  }
  return status;
}

}  // namespace meterd
