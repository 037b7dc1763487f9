// The SQLite buffer: opening and recovering it, and the commit transaction that merges deltas,
// closes due windows into the outbox and deletes delivered rows (see store.h and FORMAT.md).
#include "buffer/store/store.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "buffer/store/accumulator_columns.h"
#include "buffer/windows/distinct_chunks.h"
#include "buffer/identity/idempotency_key.h"
#include "buffer/sqlite/schema.h"
#include "buffer/identity/series_identity.h"

namespace meterd {
namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "meterd";
  return name;
}

// Runs a query that returns one integer; `value` is left as it was when there is no row.
Status read_int(Statement& query, int64_t* value) {
  Status status;
  StatementUse use(query);
  if (query.step(&status)) *value = query.column_int(0);
  return status;
}

}  // namespace

void CommitBatch::merge_from(CommitBatch&& later) {
  if (empty()) {
    uint64_t newest = std::max(generation, later.generation);
    int64_t total = events + later.events;
    *this = std::move(later);
    generation = newest;
    events = total;
    return;
  }
  generation = std::max(generation, later.generation);
  events += later.events;
  deltas.merge_from(later.deltas);
  keyed.append(later.keyed);
  for (auto& letter : later.dead_letters) dead_letters.push_back(std::move(letter));
}

Status Store::open(const StoreOptions& options, int64_t now_ms, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store(options));
  if (Status s = open_database(options.path, false, &store->db_); !s) return s;
  // WAL lets the uplink read the outbox while the store writes; FULL makes every commit
  // survive power loss, which acknowledged clients are promised.
  if (Status s = exec(store->db_.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s) {
    return s;
  }
  if (Status s = apply_schema(store->db_.get()); !s) return s;
  if (options.max_size_bytes > 0) {
    // The hard stop: 25% above the soft limit, for the closing and bookkeeping of a full buffer.
    // The dedup keys' own bound is added, as they are held to it separately.
    int64_t hard_pages =
        (options.max_size_bytes + options.dedup_max_bytes) * 5 / 4 / 4096 + 64;
    if (Status s = exec(store->db_.get(),
                        fmt::format("PRAGMA max_page_count = {}", hard_pages));
        !s) {
      return s;
    }
  }
  if (Status s = store->prepare_statements(); !s) return s;
  if (Status s = store->load_meta(now_ms); !s) return s;
  if (Status s = store->count_outbox(); !s) return s;
  {
    // Every row that was ever in the outbox may have been handed to a producer by an earlier
    // process (its confirmations lost with it), so coarsening leaves them all be.
    Statement highest;
    Status s = highest.prepare(
        store->db_.get(),
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)");
    if (s) s = read_int(highest, &store->claimed_through_);
    if (!s) return s;
  }
  if (Status s = store->refresh_due_times(); !s) return s;
  *out = std::move(store);
  return Status::ok();
}

Status Store::prepare_statements() {
  sqlite3* db = db_.get();
  Status s;
  auto prepare = [&](Statement& stmt, std::string_view sql) {
    if (s) s = stmt.prepare(db, sql);
  };
  prepare(find_series_,
          "SELECT series_id FROM series WHERE identity_hash = ?1 AND identity = ?2");
  // Both the largest integer when there is none (refresh_due_times' "not due").
  prepare(select_next_close_,
          "SELECT coalesce(min(closes_at_ms), 9223372036854775807) FROM open_windows");
  // The same ranges as the expiry statements below (the second one the partial index's).
  // Timed keys from the expiry floor on (below it there are only by-arrival keys), and the
  // by-arrival keys through their partial index.
  prepare(select_oldest_timed_dedup_, R"sql(
    SELECT key FROM dedup WHERE key >= ?1 AND by_arrival = 0 ORDER BY key LIMIT 1)sql");
  prepare(select_oldest_by_arrival_dedup_, R"sql(
    SELECT coalesce(min(seen_ms), 9223372036854775807) FROM dedup WHERE by_arrival = 1)sql");
  prepare(insert_series_, "INSERT INTO series (identity, identity_hash) VALUES (?1, ?2)");
  // Most merges add to a row an earlier commit of the interval created: an UPDATE by primary
  // key is one B-tree descent where the UPSERT tries the INSERT first (13% of a commit of 9,000
  // series). The UPSERT remains for rows that are new.
  prepare(update_window_, R"sql(
    UPDATE open_windows SET
      event_count = event_count + ?4,
      value_sum = value_sum + ?5,
      value_min = min(value_min, ?6),
      value_max = max(value_max, ?7),
      latest_value = CASE WHEN ?9 >= latest_time_ms THEN ?8 ELSE latest_value END,
      latest_time_ms = max(latest_time_ms, ?9)
    WHERE series_id = ?1 AND window_start = ?2 AND window_size_s = ?3
      AND abs(value_sum + ?5) <= ?10)sql");
  prepare(upsert_window_, R"sql(
    INSERT INTO open_windows (series_id, window_start, window_size_s, revision, closes_at_ms,
                              event_count, value_sum, value_min, value_max, latest_value,
                              latest_time_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (series_id, window_start, window_size_s) DO UPDATE SET
      event_count = event_count + excluded.event_count,
      value_sum = value_sum + excluded.value_sum,
      value_min = min(value_min, excluded.value_min),
      value_max = max(value_max, excluded.value_max),
      latest_value = CASE WHEN excluded.latest_time_ms >= latest_time_ms
                          THEN excluded.latest_value ELSE latest_value END,
      latest_time_ms = max(latest_time_ms, excluded.latest_time_ms))sql");
  prepare(insert_distinct_, "INSERT OR IGNORE INTO open_distinct VALUES (?1, ?2, ?3, ?4)");
  prepare(select_due_, R"sql(
    SELECT w.series_id, s.identity, w.window_start, w.window_size_s, w.revision, w.event_count,
           w.value_sum, w.value_min, w.value_max, w.latest_value, w.latest_time_ms
    FROM open_windows w JOIN series s USING (series_id)
    WHERE w.closes_at_ms <= ?1 ORDER BY w.closes_at_ms)sql");
  // Sorted, so the arrays (and so the records) are a function of the set alone; quoted by
  // SQLite's JSON functions, which escape as RFC 8259 requires.
  prepare(select_distinct_, R"sql(
    SELECT json_quote(value) FROM open_distinct
    WHERE series_id = ?1 AND window_start = ?2 AND window_size_s = ?3 ORDER BY value)sql");
  prepare(insert_outbox_, R"sql(
    INSERT INTO outbox (idempotency_key, series_id, window_start, window_size_s, revision,
                        event_count, value_sum, value_min, value_max, latest_value, latest_time_ms,
                        distinct_values)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12))sql");
  prepare(delete_due_distinct_, R"sql(
    DELETE FROM open_distinct WHERE (series_id, window_start, window_size_s) IN (
      SELECT series_id, window_start, window_size_s FROM open_windows WHERE closes_at_ms <= ?1))sql");
  prepare(delete_due_, "DELETE FROM open_windows WHERE closes_at_ms <= ?1");
  prepare(delete_outbox_, "DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2");
  prepare(insert_dead_letter_,
          "INSERT INTO dead_letters (received_ms, listener, reason, raw) VALUES (?1, ?2, ?3, ?4)");
  prepare(evict_dead_letters_,
          "DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?1");
  prepare(insert_dedup_,
          "INSERT OR IGNORE INTO dedup (key, seen_ms, by_arrival) VALUES (?1, ?2, ?3)");
  // Bounded per commit (?3), so a backlog of expired keys never makes one commit slow.
  // Keys start with the event time (keyed_events.h): timed keys expire by it, a range at the head
  // of the B-tree from the expiry floor (?1); by-arrival keys by when they were seen, through the
  // partial index.
  prepare(expire_timed_dedup_, R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE key >= ?1 AND key < ?2 AND by_arrival = 0 LIMIT ?3))sql");
  prepare(expire_by_arrival_dedup_, R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE by_arrival = 1 AND seen_ms < ?1 LIMIT ?2))sql");
  // Over the bound: the oldest of a kind, whatever their age.
  prepare(shed_timed_dedup_, R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE key >= ?1 AND by_arrival = 0 ORDER BY key LIMIT ?2))sql");
  prepare(shed_by_arrival_dedup_, R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE by_arrival = 1 ORDER BY seen_ms LIMIT ?1))sql");
  prepare(count_dedup_, "SELECT count(*) FROM dedup");
  // Each NOT IN list is built once per run (one scan of each table), not looked up per series:
  // the outbox has no index on series_id, and needs none elsewhere. open_distinct rows belong
  // to open windows; it is listed anyway, as a deleted id may be reused by the next new series.
  prepare(collect_series_, R"sql(
    DELETE FROM series
    WHERE series_id NOT IN (SELECT series_id FROM open_windows)
      AND series_id NOT IN (SELECT series_id FROM outbox)
      AND series_id NOT IN (SELECT series_id FROM open_distinct))sql");
  prepare(save_meta_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  prepare(count_outbox_, "SELECT count(*) FROM outbox");
  prepare(count_windows_, "SELECT count(*) FROM open_windows");
  prepare(page_count_, "PRAGMA page_count");
  prepare(freelist_count_, "PRAGMA freelist_count");
  if (s) {
    Statement page_size;
    s = page_size.prepare(db, "PRAGMA page_size");
    StatementUse use(page_size);
    if (s && page_size.step(&s)) page_size_ = page_size.column_int(0);
  }
  // After the wall clock stepped back (?1: now): a row closes no later than at its window's
  // on-time close or one grace (?2) from now, as a row opened now would.
  prepare(clamp_closes_, R"sql(
    UPDATE open_windows SET closes_at_ms =
      max((window_start + window_size_s) * 1000 + ?2, ?1 + ?2)
    WHERE closes_at_ms > max((window_start + window_size_s) * 1000 + ?2, ?1 + ?2))sql");
  prepare(select_one_window_, R"sql(
    SELECT revision, event_count, value_sum, value_min, value_max, latest_value, latest_time_ms
    FROM open_windows WHERE series_id = ?1 AND window_start = ?2 AND window_size_s = ?3)sql");
  prepare(delete_one_distinct_, R"sql(
    DELETE FROM open_distinct WHERE series_id = ?1 AND window_start = ?2 AND window_size_s = ?3)sql");
  prepare(delete_one_window_, R"sql(
    DELETE FROM open_windows WHERE series_id = ?1 AND window_start = ?2 AND window_size_s = ?3)sql");
  prepare(select_open_series_, R"sql(
    SELECT s.identity, w.window_start FROM open_windows w JOIN series s USING (series_id))sql");
  return s;
}

Status Store::load_meta(int64_t now_ms) {
  Statement read;
  if (Status s = read.prepare(db_.get(), "SELECT key, value FROM meta"); !s) return s;
  int64_t stored_window_size_s = 0;
  bool dedup_counted = false;
  Status status;
  {
    StatementUse use(read);
    while (read.step(&status)) {
      std::string_view key = read.column_text(0);
      std::string value(read.column_text(1));
      if (key == "agent_id") agent_id_ = value;
      if (key == "buffer_id") buffer_id_ = value;
      if (key == "commit_seq") commit_seq_ = std::stoll(value);
      if (key == "dedup_keys") {
        dedup_keys_ = std::stoll(value);
        dedup_counted = true;
      }
      if (key == "emitted_through_ms") emitted_through_ms_ = std::stoll(value);
      if (key == "window_size_s") stored_window_size_s = std::stoll(value);
    }
  }
  if (!status) return status;

  if (!options_.agent_id.empty()) agent_id_ = options_.agent_id;
  if (agent_id_.empty()) agent_id_ = host_name();
  // A new buffer, or one from before buffer ids: its outbox rows keep the keys they have.
  if (buffer_id_.empty()) buffer_id_ = new_buffer_id();
  // Counted once (a buffer from before the count was kept); afterwards kept in step.
  if (!dedup_counted) {
    if (Status s = read_int(count_dedup_, &dedup_keys_); !s) return s;
  }
  timed_expiry_floor_.assign("\x80\0\0\0\0\0\0\x01", 8);
  last_now_ms_ = now_ms;

  // A new window size must not reuse revision 0 of a window the old size already emitted with
  // the same start: every window of the new size that starts before now counts as emitted.
  int64_t size_s = options_.window_size_s;
  if (stored_window_size_s != 0 && stored_window_size_s != size_s) {
    int64_t now_s = now_ms / 1000;
    int64_t last_end_s = (now_s / size_s + 1) * size_s;
    emitted_through_ms_ = std::max(emitted_through_ms_, last_end_s * 1000 + options_.grace_ms);
  }
  next_partials_ms_ = now_ms + options_.partials_every_ms;
  next_series_gc_ms_ = now_ms + options_.series_gc_interval_ms;
  return in_transaction([this] { return save_meta(); });
}

Status Store::save_meta() {
  auto put = [this](std::string_view key, std::string value) {
    StatementUse use(save_meta_);
    save_meta_.bind_text(1, key);
    save_meta_.bind_text(2, value);
    return save_meta_.run();
  };
  Status s = put("agent_id", agent_id_);
  if (s) s = put("buffer_id", buffer_id_);
  if (s) s = put("commit_seq", std::to_string(commit_seq_));
  if (s) s = put("dedup_keys", std::to_string(dedup_keys_));
  if (s) s = put("emitted_through_ms", std::to_string(emitted_through_ms_));
  if (s) s = put("window_size_s", std::to_string(options_.window_size_s));
  return s;
}

Status Store::in_transaction(const std::function<Status()>& body) {
  if (Status s = exec(db_.get(), "BEGIN IMMEDIATE"); !s) return s;
  outbox_grew_ = false;
  Status status = body();
  if (status) status = exec(db_.get(), "COMMIT");
  if (!status) {
    exec(db_.get(), "ROLLBACK");
    // Ids handed out inside the rolled-back transaction no longer exist.
    series_ids_.clear();
  } else if (outbox_grew_) {
    // After COMMIT: a reader that sees the new version sees the rows.
    outbox_version_.fetch_add(1, std::memory_order_release);
  }
  return status;
}

int64_t Store::dedup_clock(int64_t now_ms, int64_t steady_ms) {
  if (dedup_anchor_wall_ms_ == std::numeric_limits<int64_t>::min()) {
    dedup_anchor_wall_ms_ = now_ms;
    dedup_anchor_steady_ms_ = steady_ms;
  }
  return dedup_anchor_wall_ms_ + (steady_ms - dedup_anchor_steady_ms_);
}

Status Store::commit(const CommitBatch& batch, int64_t now_ms, int64_t steady_ms,
                     CommitResult* result) {
  *result = CommitResult{};
  std::vector<int64_t> delivered;
  {
    std::lock_guard lock(delivered_mutex_);
    delivered.swap(delivered_);
  }
  const int64_t dedup_now = dedup_clock(now_ms, steady_ms);
  // An idle agent writes nothing. With no events, no deliveries and nothing due, a transaction
  // would only rewrite the meta row: a WAL frame and an fsync every commit_interval, 40 KiB/s
  // (3 GB a day) from a sidecar with nothing to do.
  if (batch.empty() && delivered.empty() && !work_due(now_ms, dedup_now)) return Status::ok();
  int64_t saved_seq = commit_seq_, saved_emitted = emitted_through_ms_,
          saved_partials = next_partials_ms_, saved_series_gc = next_series_gc_ms_,
          saved_outbox_rows = outbox_rows_, saved_dedup_keys = dedup_keys_;
  std::string saved_floor = timed_expiry_floor_;
  // Coarsening must not only merge rows the uplink has not read, it must also commit before the
  // uplink reads again: a read between the merge and the COMMIT would still see (and send) the
  // merged rows. So the claim mutex is held for the whole transaction.
  std::unique_lock claim(claim_mutex_, std::defer_lock);
  if (options_.coarsen_at_rows > 0) claim.lock();
  Status status = in_transaction([&] {
    ++commit_seq_;
    const int64_t now = now_ms;
    Status s;
    if (now < last_now_ms_) {
      // The wall clock stepped back: timers set by the later clock would hold rows open until
      // it caught up.
      s = clamp_closes_after_clock_step(now);
      next_partials_ms_ = std::min(next_partials_ms_, now + options_.partials_every_ms);
      next_series_gc_ms_ = std::min(next_series_gc_ms_, now + options_.series_gc_interval_ms);
    }
    if (s) s = maintain_dedup(dedup_now);
    // Usage is held to max_size; the dedup keys to their own bound (maintain_dedup).
    result->refused = options_.max_size_bytes > 0 &&
                      used_bytes() - dedup_keys_ * kDedupBytesPerKey >= options_.max_size_bytes;
    if (s && !result->refused) {
      s = merge_deltas(batch.deltas, now, result);
      WindowTable admitted;
      if (s) s = admit_keyed(batch.keyed, dedup_now, &admitted, result);
      if (s) s = merge_deltas(admitted, now, result);
      if (s) s = add_dead_letters(batch.dead_letters, result);
      if (s && !refused_deltas_.empty()) s = add_dead_letters(refused_deltas_, result);
    }
    // After the admissions, so the bound holds at every COMMIT.
    if (s) s = shed_dedup_keys(dedup_now, result);
    refused_deltas_.clear();
    if (s) s = close_due(now, result);
    if (s && options_.partials_every_ms > 0 && now >= next_partials_ms_) {
      // Early partials: every open row goes out now, as at shutdown (see store.h).
      s = close_due(std::numeric_limits<int64_t>::max(), result);
      if (s) next_partials_ms_ = now + options_.partials_every_ms;
    }
    if (s) s = delete_delivered(delivered, result);
    if (s && options_.series_gc_interval_ms > 0 && now >= next_series_gc_ms_) {
      s = collect_series(result);
      next_series_gc_ms_ = now + options_.series_gc_interval_ms;
    }
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
    commit_seq_ = saved_seq;
    outbox_rows_ = saved_outbox_rows;
    emitted_through_ms_ = saved_emitted;
    next_partials_ms_ = saved_partials;
    next_series_gc_ms_ = saved_series_gc;
    dedup_keys_ = saved_dedup_keys;
    timed_expiry_floor_ = saved_floor;
  } else {
    last_now_ms_ = now_ms;
  }
  return status;
}

Status Store::clamp_closes_after_clock_step(int64_t now_ms) {
  StatementUse use(clamp_closes_);
  clamp_closes_.bind(1, now_ms);
  clamp_closes_.bind(2, options_.grace_ms);
  return clamp_closes_.run();
}

Status Store::close_all_windows(int64_t, CommitResult* result) {
  *result = CommitResult{};
  int64_t saved_emitted = emitted_through_ms_, saved_outbox_rows = outbox_rows_;
  Status status = in_transaction([&] {
    Status s = close_due(std::numeric_limits<int64_t>::max(), result);
    if (s) s = save_meta();
    return s;
  });
  if (!status) {
    emitted_through_ms_ = saved_emitted;
    outbox_rows_ = saved_outbox_rows;
  }
  refresh_due_times();  // as in commit(): its failure does not undo the transaction
  return status;
}

bool Store::work_due(int64_t now_ms, int64_t dedup_now_ms) const {
  return now_ms >= next_close_ms_ || dedup_now_ms >= next_dedup_expiry_ms_ ||
         now_ms < last_now_ms_ || dedup_keys_ > dedup_max_keys() ||
         (options_.partials_every_ms > 0 && now_ms >= next_partials_ms_) ||
         (options_.coarsen_at_rows > 0 && outbox_rows_ > options_.coarsen_at_rows);
}

Status Store::oldest_dedup_keys(int64_t* oldest_timed_ms, int64_t* oldest_by_arrival_ms) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  *oldest_timed_ms = *oldest_by_arrival_ms = kNone;
  Status status = read_int(select_oldest_by_arrival_dedup_, oldest_by_arrival_ms);
  if (!status) return status;
  StatementUse use(select_oldest_timed_dedup_);
  select_oldest_timed_dedup_.bind_blob(1, timed_expiry_floor_);
  if (select_oldest_timed_dedup_.step(&status)) {
    *oldest_timed_ms = dedup_key_time_ms(select_oldest_timed_dedup_.column_text(0));
  }
  return status;
}

Status Store::refresh_due_times() {
  // On an error the next commit runs whatever it holds, as it did before idle commits were
  // skipped.
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  next_close_ms_ = next_dedup_expiry_ms_ = std::numeric_limits<int64_t>::min();
  int64_t next_close = kNone, oldest_timed_ms = kNone, oldest_by_arrival_ms = kNone;
  Status status = read_int(select_next_close_, &next_close);
  if (status) status = oldest_dedup_keys(&oldest_timed_ms, &oldest_by_arrival_ms);
  if (!status) return status;
  next_close_ms_ = next_close;
  const int64_t window = options_.dedup_window_ms;
  int64_t timed_due = oldest_timed_ms == kNone ? kNone : oldest_timed_ms + window + kDedupLateAfter_ms;
  int64_t by_arrival_due = oldest_by_arrival_ms == kNone ? kNone : oldest_by_arrival_ms + window;
  next_dedup_expiry_ms_ = std::min(timed_due, by_arrival_due);
  return Status::ok();
}

Status Store::series_id(std::string_view identity, int64_t* id) {
  if ((*id = series_ids_.find(identity)) != 0) return Status::ok();
  const auto hash = static_cast<int64_t>(series_identity_hash(identity));
  Status status;
  {
    StatementUse use(find_series_);
    find_series_.bind(1, hash);
    find_series_.bind_blob(2, identity);
    if (find_series_.step(&status)) *id = find_series_.column_int(0);
    else if (!status) return status;
    else *id = -1;
  }
  if (*id < 0) {
    StatementUse use(insert_series_);
    insert_series_.bind_blob(1, identity);
    insert_series_.bind(2, hash);
    if (Status s = insert_series_.run(); !s) return s;
    *id = sqlite3_last_insert_rowid(db_.get());
  }
  series_ids_.insert(identity, *id);
  return Status::ok();
}

Status Store::collect_series(CommitResult* result) {
  StatementUse use(collect_series_);
  if (Status s = collect_series_.run(); !s) return s;
  result->series_collected = sqlite3_changes(db_.get());
  // Simplest safe forgetting: the cache refills from the table for the series still active.
  if (result->series_collected > 0) series_ids_.clear();
  return Status::ok();
}

Status Store::merge_deltas(const WindowTable& deltas, int64_t now_ms, CommitResult* result) {
  const int64_t size_s = options_.window_size_s;
  const int64_t on_time_after_ms = std::max(now_ms, emitted_through_ms_);
  Status status;
  deltas.for_each_entry([&](std::string_view identity, int64_t window_start,
                            const Accumulator& acc, const DistinctValues& distinct) {
    if (!status) return;
    if (!acc.finite()) {
      // Only a merge of batches kept over failed commits can get here (ingest refuses an event
      // that would make its own table's sum non-finite); SQLite cannot store it, and failing
      // the commit would refuse every client's events.
      ++result->deltas_refused;
      refused_deltas_.push_back(DeadLetter{
          now_ms, "store",
          fmt::format("window {}: {} events whose sum is beyond ±1.8e308 after batches kept "
                      "over failed commits were merged",
                      window_start, acc.event_count),
          std::string(identity)});
      return;
    }
    int64_t id = 0;
    status = series_id(identity, &id);
    if (!status) return;
    int64_t closes_on_time_ms = (window_start + size_s) * 1000 + options_.grace_ms;
    bool on_time = closes_on_time_ms > on_time_after_ms;
    // A late partial gathers a burst of late events for one grace; one opened before the window
    // would have closed on time (after an early close) stays open until then.
    int64_t closes_at_ms =
        on_time ? closes_on_time_ms : std::max(closes_on_time_ms, now_ms + options_.grace_ms);
    status = merge_window(id, identity, window_start, on_time ? int64_t{0} : commit_seq_,
                          closes_at_ms, acc, result);
    for (const std::string& value : distinct) {
      if (!status) return;
      StatementUse insert(insert_distinct_);
      insert_distinct_.bind(1, id);
      insert_distinct_.bind(2, window_start);
      insert_distinct_.bind(3, size_s);
      insert_distinct_.bind_text(4, value);
      status = insert_distinct_.run();
    }
    ++result->windows_updated;
  });
  return status;
}

namespace {

// Binds a window's key (series, start, size) at ?1–?3 of `statement`.
void bind_window_key(Statement& statement, int64_t series_id, int64_t window_start,
                     int64_t size_s) {
  statement.bind(1, series_id);
  statement.bind(2, window_start);
  statement.bind(3, size_s);
}

}  // namespace

Status Store::merge_window(int64_t series_id, std::string_view identity, int64_t window_start,
                           int64_t revision, int64_t closes_at_ms, const Accumulator& acc,
                           CommitResult* result) {
  const int64_t size_s = options_.window_size_s;
  {
    StatementUse use(update_window_);
    bind_window_key(update_window_, series_id, window_start, size_s);
    bind_accumulator(update_window_, 4, acc);
    update_window_.bind(10, std::numeric_limits<double>::max());  // the guard: a finite sum
    if (Status s = update_window_.run(); !s) return s;
    if (sqlite3_changes(db_.get()) == 1) return Status::ok();
  }
  // No row, or one whose sum would leave the doubles (the UPDATE's guard): that row goes out as
  // it is, and the delta opens a new revision, so every record carries a finite sum.
  bool closed = false;
  if (Status s = close_one(series_id, identity, window_start, &closed, result); !s) return s;
  if (closed) {
    ++result->windows_split;
    // Fresh, as for a split distinct array: the closed row may have had this commit's number.
    revision = ++commit_seq_;
  }
  StatementUse use(upsert_window_);
  bind_window_key(upsert_window_, series_id, window_start, size_s);
  upsert_window_.bind(4, revision);
  upsert_window_.bind(5, closes_at_ms);
  bind_accumulator(upsert_window_, 6, acc);
  return upsert_window_.run();
}

Status Store::close_one(int64_t series_id, std::string_view identity, int64_t window_start,
                        bool* closed, CommitResult* result) {
  const int64_t size_s = options_.window_size_s;
  int64_t revision = 0;
  Accumulator values;
  {
    Status status;
    StatementUse use(select_one_window_);
    bind_window_key(select_one_window_, series_id, window_start, size_s);
    if (!select_one_window_.step(&status)) return status;  // no open row: nothing to close
    revision = select_one_window_.column_int(0);
    values = read_accumulator(select_one_window_, 1);
  }
  std::vector<std::string> arrays;
  if (Status s = distinct_arrays(series_id, window_start, size_s, &arrays); !s) return s;
  if (Status s =
          insert_partial(series_id, identity, window_start, size_s, revision, values, arrays);
      !s) {
    return s;
  }
  emitted_through_ms_ =
      std::max(emitted_through_ms_, (window_start + size_s) * 1000 + options_.grace_ms);
  ++result->windows_closed;
  *closed = true;
  for (Statement* remove : {&delete_one_distinct_, &delete_one_window_}) {
    StatementUse use(*remove);
    bind_window_key(*remove, series_id, window_start, size_s);
    if (Status s = remove->run(); !s) return s;
  }
  return Status::ok();
}

Status Store::admit_keyed(const KeyedEvents& keyed, int64_t dedup_now_ms, WindowTable* admitted,
                          CommitResult* result) {
  Status status;
  bool failed = false;
  keyed.merge_admitted(
      [&](const DedupKey& key, bool* admit_failed) {
        int64_t event_time_ms = dedup_key_time_ms(
            std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
        // A key that cannot expire by its event time without ending too early (no time, or a
        // time long before its arrival) expires by its arrival (FORMAT.md, `dedup`).
        bool by_arrival =
            event_time_ms == 0 || event_time_ms < dedup_now_ms - kDedupLateAfter_ms;
        StatementUse use(insert_dedup_);
        insert_dedup_.bind_blob(
            1, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
        insert_dedup_.bind(2, dedup_now_ms);
        insert_dedup_.bind(3, int64_t{by_arrival});
        status = insert_dedup_.run();
        *admit_failed = !status;
        bool first_time = status && sqlite3_changes(db_.get()) == 1;
        if (first_time) ++dedup_keys_;
        if (status && !first_time) ++result->duplicates_dropped;
        return first_time;
      },
      admitted, &failed);
  return status;
}

int64_t Store::dedup_max_keys() const {
  return options_.dedup_max_bytes > 0 ? options_.dedup_max_bytes / kDedupBytesPerKey
                                      : std::numeric_limits<int64_t>::max();
}

Status Store::maintain_dedup(int64_t dedup_now_ms) {
  const int64_t window = options_.dedup_window_ms;
  // Timed keys: seen at most kDedupLateAfter_ms after their time, so one whose time is this far
  // back was seen more than dedup_window ago.
  const int64_t timed_cutoff_ms = dedup_now_ms - window - kDedupLateAfter_ms;
  DedupTimePrefix cutoff = dedup_time_prefix(timed_cutoff_ms);
  std::string_view cutoff_blob(reinterpret_cast<const char*>(cutoff.data()), cutoff.size());
  {
    StatementUse use(expire_timed_dedup_);
    expire_timed_dedup_.bind_blob(1, timed_expiry_floor_);
    expire_timed_dedup_.bind_blob(2, cutoff_blob);
    expire_timed_dedup_.bind(3, kDedupExpiredPerCommit);
    if (Status s = expire_timed_dedup_.run(); !s) return s;
    int64_t deleted = sqlite3_changes(db_.get());
    dedup_keys_ -= deleted;
    // All timed keys below the cutoff are gone: later scans start there (new timed keys are
    // never below it: their time is within kDedupLateAfter_ms of now).
    if (deleted < kDedupExpiredPerCommit && cutoff_blob > std::string_view(timed_expiry_floor_)) {
      timed_expiry_floor_.assign(cutoff_blob);
    }
  }
  {
    StatementUse use(expire_by_arrival_dedup_);
    expire_by_arrival_dedup_.bind(1, dedup_now_ms - window);
    expire_by_arrival_dedup_.bind(2, kDedupExpiredPerCommit);
    if (Status s = expire_by_arrival_dedup_.run(); !s) return s;
    dedup_keys_ -= sqlite3_changes(db_.get());
  }
  return Status::ok();
}

Status Store::shed_dedup_keys(int64_t dedup_now_ms, CommitResult* result) {
  // Oldest first, from whichever kind holds the older key, a slice at a time.
  constexpr int64_t kSlice = 10'000;
  const int64_t max_keys = dedup_max_keys();
  while (dedup_keys_ > max_keys && result->dedup_keys_shed < kDedupShedPerCommit) {
    int64_t oldest_timed = 0, oldest_by_arrival = 0;
    if (Status s = oldest_dedup_keys(&oldest_timed, &oldest_by_arrival); !s) return s;
    int64_t n = std::min({dedup_keys_ - max_keys, kSlice,
                          kDedupShedPerCommit - result->dedup_keys_shed});
    Statement& shed = oldest_timed <= oldest_by_arrival ? shed_timed_dedup_ : shed_by_arrival_dedup_;
    StatementUse use(shed);
    if (&shed == &shed_timed_dedup_) {
      shed.bind_blob(1, timed_expiry_floor_);
      shed.bind(2, n);
    } else {
      shed.bind(1, n);
    }
    if (Status s = shed.run(); !s) return s;
    int64_t deleted = sqlite3_changes(db_.get());
    if (deleted == 0) break;  // the count was off; nothing more to shed
    dedup_keys_ -= deleted;
    result->dedup_keys_shed += deleted;
  }
  if (result->dedup_keys_shed > 0) {
    int64_t oldest_timed = 0, oldest_by_arrival = 0;
    if (Status s = oldest_dedup_keys(&oldest_timed, &oldest_by_arrival); !s) return s;
    result->dedup_horizon_ms = dedup_now_ms - std::min(oldest_timed, oldest_by_arrival);
  }
  return Status::ok();
}

Status Store::add_dead_letters(const std::vector<DeadLetter>& letters, CommitResult* result) {
  if (letters.empty()) return Status::ok();
  for (const DeadLetter& letter : letters) {
    StatementUse use(insert_dead_letter_);
    insert_dead_letter_.bind(1, letter.received_ms);
    insert_dead_letter_.bind_text(2, letter.listener);
    insert_dead_letter_.bind_text(3, letter.reason);
    insert_dead_letter_.bind_blob(4, letter.raw);
    if (Status s = insert_dead_letter_.run(); !s) return s;
  }
  StatementUse use(evict_dead_letters_);
  evict_dead_letters_.bind(1, options_.dead_letter_limit);
  Status s = evict_dead_letters_.run();
  result->dead_letters_evicted = sqlite3_changes(db_.get());
  return s;
}

Status Store::close_due(int64_t until_ms, CommitResult* result) {
  Status status;
  {
    StatementUse select(select_due_);
    select_due_.bind(1, until_ms);
    std::vector<std::string> arrays;
    while (select_due_.step(&status)) {
      std::string_view identity = select_due_.column_text(1);
      int64_t window_start = select_due_.column_int(2);
      int64_t size_s = select_due_.column_int(3);
      int64_t revision = select_due_.column_int(4);
      Accumulator values = read_accumulator(select_due_, 5);
      int64_t series = select_due_.column_int(0);
      if (status = distinct_arrays(series, window_start, size_s, &arrays); !status) return status;
      if (status = insert_partial(series, identity, window_start, size_s, revision, values, arrays);
          !status) {
        return status;
      }
      // Any later delta for this window must open a new revision, never revision 0 again.
      emitted_through_ms_ =
          std::max(emitted_through_ms_, (window_start + size_s) * 1000 + options_.grace_ms);
      ++result->windows_closed;
    }
  }
  if (!status) return status;
  {
    StatementUse use(delete_due_distinct_);
    delete_due_distinct_.bind(1, until_ms);
    if (status = delete_due_distinct_.run(); !status) return status;
  }
  StatementUse use(delete_due_);
  delete_due_.bind(1, until_ms);
  return delete_due_.run();
}

Status Store::distinct_arrays(int64_t series_id, int64_t window_start, int64_t size_s,
                              std::vector<std::string>* arrays) {
  Status status;
  StatementUse use(select_distinct_);
  select_distinct_.bind(1, series_id);
  select_distinct_.bind(2, window_start);
  select_distinct_.bind(3, size_s);
  DistinctChunks chunks;
  while (select_distinct_.step(&status)) chunks.add_quoted(select_distinct_.column_text(0));
  *arrays = chunks.take();
  return status;
}

Status Store::insert_partial(int64_t series_id, std::string_view identity, int64_t window_start,
                             int64_t size_s, int64_t revision, const Accumulator& values,
                             const std::vector<std::string>& arrays) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    Accumulator part = values;
    if (i > 0) {
      // A fresh revision, like a coarsened row's: no partial of this window has it.
      revision = ++commit_seq_;
      part.event_count = 0;
      part.value_sum = 0;
    }
    StatementUse insert(insert_outbox_);
    insert_outbox_.bind_text(
        1, idempotency_key(buffer_id_, identity, window_start, size_s, revision));
    insert_outbox_.bind(2, series_id);
    insert_outbox_.bind(3, window_start);
    insert_outbox_.bind(4, size_s);
    insert_outbox_.bind(5, revision);
    bind_accumulator(insert_outbox_, 6, part);
    insert_outbox_.bind_text(12, arrays[i]);
    if (Status status = insert_outbox_.run(); !status) return status;
    ++outbox_rows_;
    outbox_grew_ = true;
  }
  return Status::ok();
}

Status Store::for_each_open_series(
    const std::function<void(std::string_view identity, int64_t window_start)>& visit) {
  Status status;
  StatementUse use(select_open_series_);
  while (select_open_series_.step(&status)) {
    visit(select_open_series_.column_text(0), select_open_series_.column_int(1));
  }
  return status;
}

void Store::mark_delivered(const std::vector<int64_t>& seqs) {
  std::lock_guard lock(delivered_mutex_);
  delivered_.insert(delivered_.end(), seqs.begin(), seqs.end());
}

Status Store::delete_delivered(const std::vector<int64_t>& seqs, CommitResult* result) {
  // Deliveries arrive in runs of consecutive seqs: one DELETE per run, not per row (the
  // per-row statement was half of the drain's CPU). A run holds delivered seqs only.
  std::vector<int64_t> sorted(seqs);
  std::sort(sorted.begin(), sorted.end());
  for (size_t first = 0, last; first < sorted.size(); first = last + 1) {
    for (last = first; last + 1 < sorted.size() && sorted[last + 1] <= sorted[last] + 1;) ++last;
    StatementUse use(delete_outbox_);
    delete_outbox_.bind(1, sorted[first]);
    delete_outbox_.bind(2, sorted[last]);
    if (Status s = delete_outbox_.run(); !s) return s;
    result->rows_deleted += sqlite3_changes(db_.get());
    outbox_rows_ -= sqlite3_changes(db_.get());
  }
  return Status::ok();
}

int64_t Store::used_bytes() {
  int64_t pages = 0, free_pages = 0;
  read_int(page_count_, &pages);
  read_int(freelist_count_, &free_pages);
  return (pages - free_pages) * page_size_;
}

Status Store::count_outbox() { return read_int(count_outbox_, &outbox_rows_); }

int64_t Store::open_window_rows() {
  int64_t rows = -1;
  read_int(count_windows_, &rows);
  return rows;
}

}  // namespace meterd
