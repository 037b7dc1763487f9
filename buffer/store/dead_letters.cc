// Inserting dead letters, marking them sent and evicting the oldest beyond the limit (see
// dead_letters.h).
#include "buffer/store/dead_letters.h"

namespace meterd {
namespace {

constexpr const char* kInsertSql =
    "INSERT INTO dead_letters (received_ms, listener, reason, raw, reason_code) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
// Ids grow with every insert, so the newest `limit` rows are the ones within `limit` of the top.
constexpr const char* kEvictSql =
    "DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?1";
constexpr const char* kMarkSentSql = "UPDATE dead_letters SET sent = 1 WHERE id = ?1";

}  // namespace

Status DeadLetterTable::prepare(sqlite3* db) {
  db_ = db;
  Status s = insert_.prepare(db, kInsertSql);
  if (s) s = evict_.prepare(db, kEvictSql);
  if (s) s = mark_sent_.prepare(db, kMarkSentSql);
  return s;
}

Status DeadLetterTable::add(const std::vector<DeadLetter>& letters, int64_t limit,
                            int64_t* evicted) {
  if (letters.empty()) return Status::ok();
  for (const DeadLetter& letter : letters) {
    StatementUse use(insert_);
    insert_.bind(1, letter.received_ms);
    insert_.bind_text(2, letter.listener);
    insert_.bind_text(3, letter.reason);
    insert_.bind_blob(4, letter.raw);
    insert_.bind_text(5, letter.reason_code);
    if (Status s = insert_.run(); !s) return s;
    ++rows_inserted_;
  }
  StatementUse use(evict_);
  evict_.bind(1, limit);
  Status s = evict_.run();
  *evicted = sqlite3_changes(db_);
  return s;
}

Status DeadLetterTable::mark_sent(const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    StatementUse use(mark_sent_);
    mark_sent_.bind(1, id);
    if (Status s = mark_sent_.run(); !s) return s;
  }
  return Status::ok();
}

}  // namespace meterd
