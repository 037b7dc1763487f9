// The store's outbox statements: insert at close, delete after delivery, and the reads and
// deletes of coarsening (see outbox.h and FORMAT.md, `outbox` and "Coarsening").
#include "buffer/store/outbox.h"

#include <fmt/format.h>

#include <algorithm>

namespace meterd {
namespace {

constexpr const char* kInsertSql =
    "INSERT INTO outbox ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static_assert(OutboxColumn::kCount == 12, "kInsertSql binds every outbox column");
constexpr const char* kDeleteRangeSql = "DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2";
constexpr const char* kDeleteOneSql = "DELETE FROM outbox WHERE seq = ?1";
// sqlite_sequence keeps the highest seq ever assigned, even once its row is deleted.
constexpr const char* kHighestSeqSql =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)";
// Unread rows of this size or finer (earlier merges of this size merge again with finer rows of
// their hour), grouped by series and coarse window, each group in seq order so
// Accumulator::merge sees later partials last (LATEST's ties go to the later arrival).
// ?1: the coarse size, ?2: the highest seq claimed.
constexpr const char* kSelectCoarsenableSql = R"sql(
    SELECT o.seq, o.series_id, s.identity, o.window_start - o.window_start % ?1 AS coarse_start,
           o.window_size_s, {}
    FROM outbox o JOIN series s USING (series_id)
    WHERE o.seq > ?2 AND o.window_size_s <= ?1
    ORDER BY o.series_id, coarse_start, o.seq)sql";
// UNIQUE_COUNT: the merged partial carries the union of its parts' distinct values, sorted and
// quoted as at close (open_windows.cc), cut into arrays of one record each.
constexpr const char* kDistinctUnionSql = R"sql(
    SELECT json_quote(value) FROM (
      SELECT DISTINCT j.value AS value FROM outbox o, json_each(o.distinct_values) j
      WHERE o.seq > ?2 AND o.window_size_s <= ?1 AND o.series_id = ?3
        AND o.window_start - o.window_start % ?1 = ?4)
    ORDER BY value)sql";

}  // namespace

Status OutboxTable::open(sqlite3* db) {
  db_ = db;
  Status s;
  auto prepare = [&](Statement& statement, std::string_view sql) {
    if (s) s = statement.prepare(db, sql);
  };
  prepare(insert_, fmt::format(kInsertSql, outbox_columns("")));
  prepare(delete_range_, kDeleteRangeSql);
  prepare(delete_one_, kDeleteOneSql);
  prepare(count_, "SELECT count(*) FROM outbox");
  prepare(highest_seq_, kHighestSeqSql);
  prepare(select_coarsenable_, fmt::format(kSelectCoarsenableSql, accumulator_columns("o.")));
  prepare(distinct_union_, kDistinctUnionSql);
  if (s) s = query_int(count_, &rows_);
  return s;
}

Status OutboxTable::highest_seq_ever(int64_t* seq) { return query_int(highest_seq_, seq); }

Status OutboxTable::insert(const NewOutboxRow& row) {
  StatementUse use(insert_);
  bind_outbox_row(insert_, row);
  if (Status s = insert_.run(); !s) return s;
  ++rows_;
  ++rows_inserted_;
  return Status::ok();
}

Status OutboxTable::delete_delivered(const std::vector<int64_t>& seqs, int64_t* deleted) {
  // Deliveries arrive in runs of consecutive seqs: one DELETE per run, not per row (the per-row
  // statement was half of the drain's CPU). A run holds delivered seqs only.
  std::vector<int64_t> sorted(seqs);
  std::sort(sorted.begin(), sorted.end());
  for (size_t first = 0, last; first < sorted.size(); first = last + 1) {
    for (last = first; last + 1 < sorted.size() && sorted[last + 1] <= sorted[last] + 1;) ++last;
    StatementUse use(delete_range_);
    delete_range_.bind(1, sorted[first]);
    delete_range_.bind(2, sorted[last]);
    if (Status s = delete_range_.run(); !s) return s;
    *deleted += sqlite3_changes(db_);
    rows_ -= sqlite3_changes(db_);
  }
  return Status::ok();
}

Status OutboxTable::remove(int64_t seq) {
  StatementUse use(delete_one_);
  delete_one_.bind(1, seq);
  if (Status s = delete_one_.run(); !s) return s;
  rows_ -= sqlite3_changes(db_);
  return Status::ok();
}

Status OutboxTable::for_each_coarsenable(int64_t size_s, int64_t claimed_through,
                                         const std::function<void(const CoarsenableRow&)>& visit) {
  Status status;
  StatementUse use(select_coarsenable_);
  select_coarsenable_.bind(1, size_s);
  select_coarsenable_.bind(2, claimed_through);
  CoarsenableRow row;
  while (select_coarsenable_.step(&status)) {
    row.seq = select_coarsenable_.column_int(0);
    row.series_id = select_coarsenable_.column_int(1);
    row.identity = select_coarsenable_.column_text(2);
    row.coarse_start = select_coarsenable_.column_int(3);
    row.window_size_s = select_coarsenable_.column_int(4);
    row.values = read_accumulator(select_coarsenable_, 5);
    visit(row);
  }
  return status;
}

Status OutboxTable::distinct_union(int64_t size_s, int64_t claimed_through, int64_t series_id,
                                   int64_t coarse_start, DistinctChunks* chunks) {
  Status status;
  StatementUse use(distinct_union_);
  distinct_union_.bind(1, size_s);
  distinct_union_.bind(2, claimed_through);
  distinct_union_.bind(3, series_id);
  distinct_union_.bind(4, coarse_start);
  while (distinct_union_.step(&status)) chunks->add_quoted(distinct_union_.column_text(0));
  return status;
}

}  // namespace meterd
