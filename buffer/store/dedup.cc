// Admitting, expiring and shedding dedup keys (see dedup.h and FORMAT.md, `dedup`).
#include "buffer/store/dedup.h"

#include <algorithm>
#include <limits>
#include <string_view>

namespace meterd {
namespace {

constexpr int64_t kNone = std::numeric_limits<int64_t>::max();

std::string_view key_blob(const unsigned char* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

constexpr const char* kInsertSql =
    "INSERT OR IGNORE INTO dedup (key, seen_ms, by_arrival) VALUES (?1, ?2, ?3)";
// Bounded per commit (the LIMIT), so a backlog of expired keys never makes one commit slow.
// Keys start with the event time (keyed_events.h): timed keys expire by it, a range at the head
// of the B-tree from the expiry floor (?1); by-arrival keys by when they were seen, through the
// partial index.
constexpr const char* kExpireTimedSql = R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE key >= ?1 AND key < ?2 AND by_arrival = 0 LIMIT ?3))sql";
constexpr const char* kExpireByArrivalSql = R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE by_arrival = 1 AND seen_ms < ?1 LIMIT ?2))sql";
// The same ranges as the expiry statements (the second one the partial index's).
constexpr const char* kOldestTimedSql = R"sql(
    SELECT key FROM dedup WHERE key >= ?1 AND by_arrival = 0 ORDER BY key LIMIT 1)sql";
constexpr const char* kOldestByArrivalSql = R"sql(
    SELECT coalesce(min(seen_ms), 9223372036854775807) FROM dedup WHERE by_arrival = 1)sql";
// Over the bound: the oldest of a kind, whatever their age.
constexpr const char* kShedTimedSql = R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE key >= ?1 AND by_arrival = 0 ORDER BY key LIMIT ?2))sql";
constexpr const char* kShedByArrivalSql = R"sql(
    DELETE FROM dedup WHERE key IN (SELECT key FROM dedup
      WHERE by_arrival = 1 ORDER BY seen_ms LIMIT ?1))sql";

}  // namespace

Status DedupTable::prepare(sqlite3* db, int64_t window_ms, int64_t max_bytes) {
  db_ = db;
  window_ms_ = window_ms;
  max_keys_ = max_bytes > 0 ? max_bytes / kBytesPerKey : kNone;
  Status s;
  auto prepare = [&](Statement& statement, std::string_view sql) {
    if (s) s = statement.prepare(db, sql);
  };
  prepare(insert_, kInsertSql);
  prepare(expire_timed_, kExpireTimedSql);
  prepare(expire_by_arrival_, kExpireByArrivalSql);
  prepare(select_oldest_timed_, kOldestTimedSql);
  prepare(select_oldest_by_arrival_, kOldestByArrivalSql);
  prepare(shed_timed_, kShedTimedSql);
  prepare(shed_by_arrival_, kShedByArrivalSql);
  prepare(count_, "SELECT count(*) FROM dedup");
  return s;
}

Status DedupTable::start(std::optional<int64_t> saved_keys) {
  // Event time 1 ms: below it lie only the keys of events without a time, all by arrival.
  timed_expiry_floor_.assign("\x80\0\0\0\0\0\0\x01", 8);
  if (saved_keys) {
    keys_ = *saved_keys;
    return Status::ok();
  }
  // Counted once (a buffer from before the count was kept); afterwards kept in step.
  Status status;
  StatementUse use(count_);
  if (count_.step(&status)) keys_ = count_.column_int(0);
  return status;
}

Status DedupTable::admit(const KeyedEvents& keyed, int64_t now_ms, WindowTable* admitted,
                         int64_t* duplicates) {
  Status status;
  bool failed = false;
  keyed.merge_admitted(
      [&](const DedupKey& key, bool* admit_failed) {
        std::string_view blob = key_blob(key.data(), key.size());
        int64_t event_time_ms = dedup_key_time_ms(blob);
        // A key that cannot expire by its event time without ending too early (no time, or a
        // time long before its arrival) expires by its arrival (FORMAT.md, `dedup`).
        bool by_arrival = event_time_ms == 0 || event_time_ms < now_ms - kLateAfter_ms;
        StatementUse use(insert_);
        insert_.bind_blob(1, blob);
        insert_.bind(2, now_ms);
        insert_.bind(3, int64_t{by_arrival});
        status = insert_.run();
        *admit_failed = !status;
        bool first_time = status && sqlite3_changes(db_) == 1;
        if (first_time) ++keys_;
        if (status && !first_time) ++*duplicates;
        return first_time;
      },
      admitted, &failed);
  return status;
}

Status DedupTable::expire(int64_t now_ms) {
  Status s = expire_timed(now_ms);
  if (s) s = expire_by_arrival(now_ms);
  return s;
}

Status DedupTable::expire_timed(int64_t now_ms) {
  // Timed keys: seen at most kLateAfter_ms after their time, so one whose time is this far back
  // was seen more than the window ago.
  DedupTimePrefix cutoff = dedup_time_prefix(now_ms - window_ms_ - kLateAfter_ms);
  std::string_view cutoff_blob = key_blob(cutoff.data(), cutoff.size());
  StatementUse use(expire_timed_);
  expire_timed_.bind_blob(1, timed_expiry_floor_);
  expire_timed_.bind_blob(2, cutoff_blob);
  expire_timed_.bind(3, kExpiredPerCommit);
  if (Status s = expire_timed_.run(); !s) return s;
  int64_t deleted = sqlite3_changes(db_);
  keys_ -= deleted;
  // All timed keys below the cutoff are gone: later scans start there (new timed keys are never
  // below it: their time is within kLateAfter_ms of now).
  if (deleted < kExpiredPerCommit && cutoff_blob > std::string_view(timed_expiry_floor_)) {
    timed_expiry_floor_.assign(cutoff_blob);
  }
  return Status::ok();
}

Status DedupTable::expire_by_arrival(int64_t now_ms) {
  StatementUse use(expire_by_arrival_);
  expire_by_arrival_.bind(1, now_ms - window_ms_);
  expire_by_arrival_.bind(2, kExpiredPerCommit);
  if (Status s = expire_by_arrival_.run(); !s) return s;
  keys_ -= sqlite3_changes(db_);
  return Status::ok();
}

Status DedupTable::shed_oldest(int64_t now_ms, int64_t* shed, int64_t* horizon_ms) {
  // Oldest first, from whichever kind holds the older key, a slice at a time.
  constexpr int64_t kSlice = 10'000;
  *shed = 0;
  while (keys_ > max_keys_ && *shed < kShedPerCommit) {
    int64_t oldest_timed = 0, oldest_by_arrival = 0;
    if (Status s = oldest_keys(&oldest_timed, &oldest_by_arrival); !s) return s;
    int64_t n = std::min({keys_ - max_keys_, kSlice, kShedPerCommit - *shed});
    bool timed = oldest_timed <= oldest_by_arrival;
    Statement& statement = timed ? shed_timed_ : shed_by_arrival_;
    StatementUse use(statement);
    if (timed) {
      statement.bind_blob(1, timed_expiry_floor_);
      statement.bind(2, n);
    } else {
      statement.bind(1, n);
    }
    if (Status s = statement.run(); !s) return s;
    int64_t deleted = sqlite3_changes(db_);
    if (deleted == 0) break;  // the count was off; nothing more to shed
    keys_ -= deleted;
    *shed += deleted;
  }
  if (*shed > 0) {
    int64_t oldest_timed = 0, oldest_by_arrival = 0;
    if (Status s = oldest_keys(&oldest_timed, &oldest_by_arrival); !s) return s;
    *horizon_ms = now_ms - std::min(oldest_timed, oldest_by_arrival);
  }
  return Status::ok();
}

Status DedupTable::oldest_keys(int64_t* oldest_timed_ms, int64_t* oldest_by_arrival_ms) {
  *oldest_timed_ms = *oldest_by_arrival_ms = kNone;
  Status status;
  {
    StatementUse use(select_oldest_by_arrival_);
    if (select_oldest_by_arrival_.step(&status)) {
      *oldest_by_arrival_ms = select_oldest_by_arrival_.column_int(0);
    }
  }
  if (!status) return status;
  StatementUse use(select_oldest_timed_);
  select_oldest_timed_.bind_blob(1, timed_expiry_floor_);
  if (select_oldest_timed_.step(&status)) {
    *oldest_timed_ms = dedup_key_time_ms(select_oldest_timed_.column_text(0));
  }
  return status;
}

Status DedupTable::next_expiry_ms(int64_t* due_ms) {
  int64_t oldest_timed_ms = kNone, oldest_by_arrival_ms = kNone;
  if (Status s = oldest_keys(&oldest_timed_ms, &oldest_by_arrival_ms); !s) return s;
  int64_t timed_due =
      oldest_timed_ms == kNone ? kNone : oldest_timed_ms + window_ms_ + kLateAfter_ms;
  int64_t by_arrival_due =
      oldest_by_arrival_ms == kNone ? kNone : oldest_by_arrival_ms + window_ms_;
  *due_ms = std::min(timed_due, by_arrival_due);
  return Status::ok();
}

void DedupTable::roll_back_to(const Mark& mark) {
  keys_ = mark.keys;
  timed_expiry_floor_ = mark.expiry_floor;
}

}  // namespace meterd
