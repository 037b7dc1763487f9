// BufferGauges (see buffer_gauges.h). The oldest waiting window is the outbox's lowest seq:
// rows enter the outbox in seq order as their windows close.
#include "buffer/store/buffer_gauges.h"

namespace meterd {

Status BufferGauges::open(const std::string& path, std::unique_ptr<BufferGauges>* out) {
  std::unique_ptr<BufferGauges> gauges(new BufferGauges());
  if (Status s = open_database(path, /*read_only=*/true, &gauges->db_); !s) return s;
  sqlite3* db = gauges->db_.get();
  sqlite3_busy_timeout(db, 1000);
  if (Status s = gauges->live_pages_.prepare(db); !s) return s;
  struct Query {
    Statement* statement;
    const char* sql;
  };
  const Query queries[] = {
      {&gauges->open_windows_, "SELECT count(*) FROM open_windows"},
      {&gauges->series_, "SELECT count(*) FROM series"},
      {&gauges->outbox_records_, "SELECT count(*) FROM outbox"},
      {&gauges->outbox_oldest_,
       "SELECT (window_start + window_size_s) * 1000 FROM outbox ORDER BY seq LIMIT 1"},
      {&gauges->dead_letters_, "SELECT count(*) FROM dead_letters"},
      {&gauges->dead_letters_by_reason_,
       "SELECT reason_code, count(*) FROM dead_letters GROUP BY reason_code"},
  };
  for (const Query& query : queries) {
    if (Status s = query.statement->prepare(db, query.sql); !s) {
      return Status::error("not a meterd buffer: " + s.message());
    }
  }
  *out = std::move(gauges);
  return Status::ok();
}

Status BufferGauges::read_by_reason(std::map<std::string, int64_t>* counts) {
  counts->clear();
  Status status;
  StatementUse use(dead_letters_by_reason_);
  while (dead_letters_by_reason_.step(&status)) {
    (*counts)[std::string(dead_letters_by_reason_.column_text(0))] =
        dead_letters_by_reason_.column_int(1);
  }
  return status;
}

Status BufferGauges::read(BufferGaugeValues* values) {
  // One read transaction, so the counts are of one committed state.
  if (Status s = exec(db_.get(), "BEGIN"); !s) return s;
  Status status = query_int(open_windows_, &values->open_windows);
  if (status) status = query_int(series_, &values->series);
  if (status) status = query_int(outbox_records_, &values->outbox_records);
  if (status) status = query_int(dead_letters_, &values->dead_letters);
  if (status) {
    values->outbox_oldest_window_end_ms = 0;
    StatementUse use(outbox_oldest_);
    if (outbox_oldest_.step(&status)) {
      values->outbox_oldest_window_end_ms = outbox_oldest_.column_int(0);
    }
  }
  if (status) status = read_by_reason(&values->dead_letters_by_reason);
  if (status) values->used_bytes = live_pages_.bytes();
  exec(db_.get(), "COMMIT");
  return status;
}

}  // namespace meterd
