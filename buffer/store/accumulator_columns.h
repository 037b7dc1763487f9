// An Accumulator as the buffer's tables hold it: six columns (event_count, value_sum,
// value_min, value_max, latest_value, latest_time_ms), in that order, in open_windows and the
// outbox alike. Bound to a statement's parameters or read from its result columns.
#pragma once

#include "buffer/windows/accumulator.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

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

}  // namespace meterd
