// The shared column lists (see columns.h): built from one list of names each, so a statement
// never spells out its own copy.
#include "buffer/store/columns.h"

#include <array>

namespace meterd {
namespace {

constexpr std::array<std::string_view, 6> kAccumulatorNames = {
    "event_count", "value_sum", "value_min", "value_max", "latest_value", "latest_time_ms"};

// The accumulator's names take the place of its one entry here (OutboxColumn::kValues).
constexpr std::array<std::string_view, 7> kOutboxNames = {
    "idempotency_key", "series_id", "window_start",   "window_size_s",
    "revision",        "",          "distinct_values"};

void append_column(std::string* list, std::string_view alias, std::string_view name) {
  if (!list->empty()) list->append(", ");
  list->append(alias);
  list->append(name);
}

}  // namespace

std::string accumulator_columns(std::string_view alias) {
  std::string list;
  for (std::string_view name : kAccumulatorNames) append_column(&list, alias, name);
  return list;
}

std::string outbox_columns(std::string_view alias) {
  std::string list;
  for (std::string_view name : kOutboxNames) {
    if (name.empty()) {
      list.append(", ").append(accumulator_columns(alias));
    } else {
      append_column(&list, alias, name);
    }
  }
  return list;
}

void bind_outbox_row(Statement& statement, const NewOutboxRow& row) {
  statement.bind_text(OutboxColumn::kIdempotencyKey + 1, row.idempotency_key);
  statement.bind(OutboxColumn::kSeriesId + 1, row.series_id);
  statement.bind(OutboxColumn::kWindowStart + 1, row.window_start);
  statement.bind(OutboxColumn::kWindowSize + 1, row.window_size_s);
  statement.bind(OutboxColumn::kRevision + 1, row.revision);
  bind_accumulator(statement, OutboxColumn::kValues + 1, row.values);
  statement.bind_text(OutboxColumn::kDistinctValues + 1, row.distinct_values_json);
}

}  // namespace meterd
