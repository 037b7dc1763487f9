// The column lists that several of the buffer's statements share, each written once: the
// accumulator's six columns (open_windows and the outbox hold them alike) and the outbox's
// columns, which the store inserts (OutboxTable), coarsening merges and the uplink reads
// (OutboxReader). A column added to either table is added here, and the statements follow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/windows/accumulator.h"

namespace meterd {

// "event_count, value_sum, value_min, value_max, latest_value, latest_time_ms", each name
// prefixed with `alias` (say "o."): the order bind_accumulator and read_accumulator use.
std::string accumulator_columns(std::string_view alias);

// Binds `acc`'s six columns from parameter ?`first` on.
inline void bind_accumulator(Statement& statement, int first, const Accumulator& acc) {
  statement.bind(first, acc.event_count);
  statement.bind(first + 1, acc.value_sum);
  statement.bind(first + 2, acc.value_min);
  statement.bind(first + 3, acc.value_max);
  statement.bind(first + 4, acc.latest_value);
  statement.bind(first + 5, acc.latest_time_ms);
}

// Reads an accumulator from result columns `first` to `first + 5` (0-based).
inline Accumulator read_accumulator(const Statement& statement, int first) {
  Accumulator acc;
  acc.event_count = statement.column_int(first);
  acc.value_sum = statement.column_double(first + 1);
  acc.value_min = statement.column_double(first + 2);
  acc.value_max = statement.column_double(first + 3);
  acc.latest_value = statement.column_double(first + 4);
  acc.latest_time_ms = statement.column_int(first + 5);
  return acc;
}

// Every outbox column but `seq`, in the order of outbox_columns(); positions count from the
// list's first column (a statement that selects other columns first adds their number).
struct OutboxColumn {
  static constexpr int kIdempotencyKey = 0;
  static constexpr int kSeriesId = 1;
  static constexpr int kWindowStart = 2;
  static constexpr int kWindowSize = 3;
  static constexpr int kRevision = 4;
  static constexpr int kValues = 5;  // the accumulator's six columns
  static constexpr int kDistinctValues = 11;
  static constexpr int kCount = 12;
};

// "idempotency_key, series_id, …, distinct_values", each prefixed with `alias`.
std::string outbox_columns(std::string_view alias);

// A closed partial as it goes into the outbox. Views: the caller's strings outlive the insert.
struct NewOutboxRow {
  std::string_view idempotency_key;
  int64_t series_id = 0;
  int64_t window_start = 0;
  int64_t window_size_s = 0;
  int64_t revision = 0;
  Accumulator values;
  std::string_view distinct_values_json;  // a JSON array of strings; "[]" for other meters
};

// Binds `row` to parameters ?1 to ?12, in outbox_columns() order.
void bind_outbox_row(Statement& statement, const NewOutboxRow& row);

}  // namespace meterd
