// The open windows' statements (see open_windows.h and FORMAT.md, `open_windows`).
#include "buffer/store/open_windows.h"

#include <fmt/format.h>

#include <limits>

#include "buffer/store/columns.h"
#include "buffer/windows/distinct_chunks.h"

namespace meterd {
namespace {

// Every statement on one row binds its key at ?1–?3.
constexpr const char* kKeyIs = "series_id = ?1 AND window_start = ?2 AND window_size_s = ?3";

// Most merges add to a row an earlier commit of the interval created: an UPDATE by primary key is
// one B-tree descent where the UPSERT tries the INSERT first (13% of a commit of 9,000 series).
// The UPSERT remains for rows that are new. ?10 is the guard: the sum must stay finite.
constexpr const char* kUpdateSql = R"sql(
    UPDATE open_windows SET
      event_count = event_count + ?4,
      value_sum = value_sum + ?5,
      value_min = min(value_min, ?6),
      value_max = max(value_max, ?7),
      latest_value = CASE WHEN ?9 >= latest_time_ms THEN ?8 ELSE latest_value END,
      latest_time_ms = max(latest_time_ms, ?9)
    WHERE {} AND abs(value_sum + ?5) <= ?10)sql";
constexpr const char* kUpsertSql = R"sql(
    INSERT INTO open_windows (series_id, window_start, window_size_s, revision, closes_at_ms, {})
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (series_id, window_start, window_size_s) DO UPDATE SET
      event_count = event_count + excluded.event_count,
      value_sum = value_sum + excluded.value_sum,
      value_min = min(value_min, excluded.value_min),
      value_max = max(value_max, excluded.value_max),
      latest_value = CASE WHEN excluded.latest_time_ms >= latest_time_ms
                          THEN excluded.latest_value ELSE latest_value END,
      latest_time_ms = max(latest_time_ms, excluded.latest_time_ms))sql";
constexpr const char* kInsertDistinctSql =
    "INSERT OR IGNORE INTO open_distinct VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kSelectOneSql = "SELECT revision, {} FROM open_windows WHERE {}";
constexpr const char* kDeleteOneDistinctSql = "DELETE FROM open_distinct WHERE {}";
constexpr const char* kDeleteOneSql = "DELETE FROM open_windows WHERE {}";
constexpr const char* kSelectDueSql = R"sql(
    SELECT w.series_id, s.identity, w.window_start, w.window_size_s, w.revision, {}
    FROM open_windows w JOIN series s USING (series_id)
    WHERE w.closes_at_ms <= ?1 ORDER BY w.closes_at_ms)sql";
constexpr const char* kDeleteDueDistinctSql = R"sql(
    DELETE FROM open_distinct WHERE (series_id, window_start, window_size_s) IN (
      SELECT series_id, window_start, window_size_s FROM open_windows
      WHERE closes_at_ms <= ?1))sql";
constexpr const char* kDeleteDueSql = "DELETE FROM open_windows WHERE closes_at_ms <= ?1";
// Sorted, so the arrays (and so the records) are a function of the set alone; quoted by SQLite's
// JSON functions, which escape as RFC 8259 requires.
constexpr const char* kSelectDistinctSql =
    "SELECT json_quote(value) FROM open_distinct WHERE {} ORDER BY value";
// ?1: now, ?2: grace.
constexpr const char* kClampClosesSql = R"sql(
    UPDATE open_windows SET closes_at_ms =
      max((window_start + window_size_s) * 1000 + ?2, ?1 + ?2)
    WHERE closes_at_ms > max((window_start + window_size_s) * 1000 + ?2, ?1 + ?2))sql";
constexpr const char* kNextCloseSql =
    "SELECT coalesce(min(closes_at_ms), 9223372036854775807) FROM open_windows";
constexpr const char* kOpenSeriesSql =
    "SELECT s.identity, w.window_start FROM open_windows w JOIN series s USING (series_id)";

void bind_key(Statement& statement, const WindowKey& key) {
  statement.bind(1, key.series_id);
  statement.bind(2, key.window_start);
  statement.bind(3, key.size_s);
}

}  // namespace

Status OpenWindowTable::prepare(sqlite3* db) {
  db_ = db;
  const std::string values = accumulator_columns("");
  Status s;
  auto prepare = [&](Statement& statement, std::string_view sql) {
    if (s) s = statement.prepare(db, sql);
  };
  prepare(update_, fmt::format(kUpdateSql, kKeyIs));
  prepare(upsert_, fmt::format(kUpsertSql, values));
  prepare(insert_distinct_, kInsertDistinctSql);
  prepare(select_one_, fmt::format(kSelectOneSql, values, kKeyIs));
  prepare(delete_one_distinct_, fmt::format(kDeleteOneDistinctSql, kKeyIs));
  prepare(delete_one_, fmt::format(kDeleteOneSql, kKeyIs));
  prepare(select_due_, fmt::format(kSelectDueSql, accumulator_columns("w.")));
  prepare(delete_due_distinct_, kDeleteDueDistinctSql);
  prepare(delete_due_, kDeleteDueSql);
  prepare(select_distinct_, fmt::format(kSelectDistinctSql, kKeyIs));
  prepare(clamp_closes_, kClampClosesSql);
  prepare(select_next_close_, kNextCloseSql);
  prepare(count_, "SELECT count(*) FROM open_windows");
  prepare(select_open_series_, kOpenSeriesSql);
  return s;
}

Status OpenWindowTable::add_to_open(const WindowKey& key, const Accumulator& delta, bool* added) {
  StatementUse use(update_);
  bind_key(update_, key);
  bind_accumulator(update_, 4, delta);
  update_.bind(10, std::numeric_limits<double>::max());
  Status s = update_.run();
  *added = s && sqlite3_changes(db_) == 1;
  return s;
}

Status OpenWindowTable::open_or_add(const WindowKey& key, int64_t revision, int64_t closes_at_ms,
                                    const Accumulator& delta) {
  StatementUse use(upsert_);
  bind_key(upsert_, key);
  upsert_.bind(4, revision);
  upsert_.bind(5, closes_at_ms);
  bind_accumulator(upsert_, 6, delta);
  return upsert_.run();
}

Status OpenWindowTable::add_distinct(const WindowKey& key, std::string_view value) {
  StatementUse use(insert_distinct_);
  bind_key(insert_distinct_, key);
  insert_distinct_.bind_text(4, value);
  return insert_distinct_.run();
}

Status OpenWindowTable::read(const WindowKey& key, OpenWindow* row, bool* found) {
  Status status;
  StatementUse use(select_one_);
  bind_key(select_one_, key);
  *found = select_one_.step(&status);
  if (*found) {
    row->key = key;
    row->identity = {};
    row->revision = select_one_.column_int(0);
    row->values = read_accumulator(select_one_, 1);
  }
  return status;
}

Status OpenWindowTable::remove(const WindowKey& key) {
  for (Statement* statement : {&delete_one_distinct_, &delete_one_}) {
    StatementUse use(*statement);
    bind_key(*statement, key);
    if (Status s = statement->run(); !s) return s;
  }
  return Status::ok();
}

Status OpenWindowTable::for_each_due(int64_t until_ms,
                                     const std::function<Status(const OpenWindow&)>& visit) {
  Status status;
  StatementUse use(select_due_);
  select_due_.bind(1, until_ms);
  OpenWindow row;
  while (select_due_.step(&status)) {
    row.key = {select_due_.column_int(0), select_due_.column_int(2), select_due_.column_int(3)};
    row.identity = select_due_.column_text(1);
    row.revision = select_due_.column_int(4);
    row.values = read_accumulator(select_due_, 5);
    if (Status s = visit(row); !s) return s;
  }
  return status;
}

Status OpenWindowTable::remove_due(int64_t until_ms) {
  for (Statement* statement : {&delete_due_distinct_, &delete_due_}) {
    StatementUse use(*statement);
    statement->bind(1, until_ms);
    if (Status s = statement->run(); !s) return s;
  }
  return Status::ok();
}

Status OpenWindowTable::distinct_arrays(const WindowKey& key, std::vector<std::string>* arrays) {
  Status status;
  StatementUse use(select_distinct_);
  bind_key(select_distinct_, key);
  DistinctChunks chunks;
  while (select_distinct_.step(&status)) chunks.add_quoted(select_distinct_.column_text(0));
  *arrays = chunks.take();
  return status;
}

Status OpenWindowTable::clamp_closes(int64_t now_ms, int64_t grace_ms) {
  StatementUse use(clamp_closes_);
  clamp_closes_.bind(1, now_ms);
  clamp_closes_.bind(2, grace_ms);
  return clamp_closes_.run();
}

Status OpenWindowTable::next_close_ms(int64_t* close_ms) {
  return query_int(select_next_close_, close_ms);
}

int64_t OpenWindowTable::rows() {
  int64_t rows = -1;
  query_int(count_, &rows);
  return rows;
}

Status OpenWindowTable::for_each_open_series(
    const std::function<void(std::string_view identity, int64_t window_start)>& visit) {
  Status status;
  StatementUse use(select_open_series_);
  while (select_open_series_.step(&status)) {
    visit(select_open_series_.column_text(0), select_open_series_.column_int(1));
  }
  return status;
}

}  // namespace meterd
