// Reads outbox rows joined with their series for the uplink (see outbox_reader.h).
#include "buffer/store/outbox_reader.h"

#include <fmt/format.h>

#include "buffer/store/columns.h"

namespace meterd {
namespace {

// The seq and the series identity, then every outbox column (columns.h) from kFirstColumn on.
constexpr const char* kSelectSql =
    "SELECT o.seq, s.identity, {} FROM outbox o JOIN series s USING (series_id) ";
constexpr int kFirstColumn = 2;

}  // namespace

Status OutboxReader::open(const std::string& path, std::unique_ptr<OutboxReader>* out) {
  std::unique_ptr<OutboxReader> reader(new OutboxReader());
  if (Status s = open_database(path, false, &reader->db_); !s) return s;
  sqlite3* db = reader->db_.get();
  const std::string select = fmt::format(kSelectSql, outbox_columns("o."));
  Status s = reader->read_after_.prepare(
      db, fmt::format("{} WHERE o.seq > ?1 ORDER BY o.seq LIMIT ?2", select));
  if (s) s = reader->read_one_.prepare(db, fmt::format("{} WHERE o.seq = ?1", select));
  if (s) *out = std::move(reader);
  return s;
}

Status OutboxReader::read_row(Statement& stmt, OutboxRow* row) {
  auto column = [](int outbox_column) { return kFirstColumn + outbox_column; };
  row->seq = stmt.column_int(0);
  row->idempotency_key = stmt.column_text(column(OutboxColumn::kIdempotencyKey));
  if (!decode_series(stmt.column_text(1), &row->series)) {
    return Status::error(fmt::format("outbox row {} has a malformed series identity", row->seq));
  }
  row->window_start = stmt.column_int(column(OutboxColumn::kWindowStart));
  row->window_size_s = stmt.column_int(column(OutboxColumn::kWindowSize));
  row->revision = stmt.column_int(column(OutboxColumn::kRevision));
  row->values = read_accumulator(stmt, column(OutboxColumn::kValues));
  row->distinct_values_json = stmt.column_text(column(OutboxColumn::kDistinctValues));
  return Status::ok();
}

Status OutboxReader::read_after(int64_t after_seq, int limit, std::vector<OutboxRow>* rows,
                                size_t max_distinct_bytes) {
  Status status;
  StatementUse use(read_after_);
  read_after_.bind(1, after_seq);
  read_after_.bind(2, int64_t{limit});
  size_t count = 0, distinct_bytes = 0;
  while (distinct_bytes < max_distinct_bytes && read_after_.step(&status)) {
    if (count == rows->size()) rows->emplace_back();
    OutboxRow& row = (*rows)[count++];
    if (Status s = read_row(read_after_, &row); !s) return s;
    distinct_bytes += row.distinct_values_json.size();
  }
  rows->resize(count);
  return status;
}

Status OutboxReader::read_one(int64_t seq, OutboxRow* row, bool* found) {
  Status status;
  StatementUse use(read_one_);
  read_one_.bind(1, seq);
  *found = read_one_.step(&status);
  if (*found) return read_row(read_one_, row);
  return status;
}

}  // namespace meterd
