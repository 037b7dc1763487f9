// Reads unsent dead letters for the uplink (see dead_letter_reader.h).
#include "buffer/store/dead_letter_reader.h"

#include <fmt/format.h>

namespace meterd {
namespace {

// `raw` as bytes: a letter written as text would otherwise be cut and measured in characters.
constexpr const char* kSelectSql =
    "SELECT id, received_ms, listener, reason, reason_code, "
    "substr(CAST(raw AS BLOB), 1, {0}), length(CAST(raw AS BLOB)) FROM dead_letters ";

}  // namespace

Status DeadLetterReader::open(const std::string& path, int64_t max_raw_bytes,
                              std::unique_ptr<DeadLetterReader>* out) {
  std::unique_ptr<DeadLetterReader> reader(new DeadLetterReader());
  if (Status s = open_database(path, false, &reader->db_); !s) return s;
  sqlite3* db = reader->db_.get();
  const std::string select = fmt::format(kSelectSql, max_raw_bytes);
  Status s = reader->read_after_.prepare(
      db, select + "WHERE id > ?1 AND sent = 0 ORDER BY id LIMIT ?2");
  if (s) s = reader->read_one_.prepare(db, select + "WHERE id = ?1 AND sent = 0");
  if (s) *out = std::move(reader);
  return s;
}

void DeadLetterReader::read_row(Statement& stmt, UnsentDeadLetter* letter) {
  letter->id = stmt.column_int(0);
  letter->received_ms = stmt.column_int(1);
  letter->listener = stmt.column_text(2);
  letter->reason = stmt.column_text(3);
  letter->reason_code = stmt.column_text(4);
  letter->raw = stmt.column_text(5);
  letter->raw_bytes = stmt.column_int(6);
}

Status DeadLetterReader::read_after(int64_t after_id, int limit,
                                    std::vector<UnsentDeadLetter>* letters) {
  Status status;
  StatementUse use(read_after_);
  read_after_.bind(1, after_id);
  read_after_.bind(2, int64_t{limit});
  letters->clear();
  while (read_after_.step(&status)) read_row(read_after_, &letters->emplace_back());
  return status;
}

Status DeadLetterReader::read_one(int64_t id, UnsentDeadLetter* letter, bool* found) {
  Status status;
  StatementUse use(read_one_);
  read_one_.bind(1, id);
  *found = read_one_.step(&status);
  if (*found) read_row(read_one_, letter);
  return status;
}

}  // namespace meterd
