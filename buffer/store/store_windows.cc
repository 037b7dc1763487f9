// Merging a commit's deltas into the open windows and closing windows into the outbox: the
// rules of revisions (FORMAT.md, `open_windows`). A delta for a window that can still be on time
// merges into revision 0; one for a window that may have been emitted opens a late partial named
// by the commit's number; a merge that would overflow a sum closes the row and opens a fresh
// revision. Closing writes the row, with its idempotency key and distinct values, to the outbox
// and raises emitted_through_ms, so the window never gets revision 0 again.
#include <fmt/format.h>

#include <algorithm>

#include "buffer/identity/idempotency_key.h"
#include "buffer/store/store.h"

namespace meterd {
namespace {

DeadLetter non_finite_delta(int64_t now_ms, std::string_view identity, int64_t window_start,
                            const Accumulator& acc) {
  return DeadLetter{now_ms, "store",
                    fmt::format("window {}: {} events whose sum is beyond ±1.8e308 after batches "
                                "kept over failed commits were merged",
                                window_start, acc.event_count),
                    std::string(identity)};
}

}  // namespace

Status Store::merge_deltas(const WindowTable& deltas, int64_t now_ms,
                           std::vector<DeadLetter>* refused, CommitResult* result) {
  const int64_t on_time_after_ms = std::max(now_ms, emitted_through_ms_);
  Status status;
  deltas.for_each_entry([&](std::string_view identity, int64_t window_start, const Accumulator& acc,
                            const DistinctValues& distinct) {
    if (!status) return;
    if (!acc.finite()) {
      // Only a merge of batches kept over failed commits can get here (ingest refuses an event
      // that would make its own table's sum non-finite); SQLite cannot store it, and failing
      // the commit would refuse every client's events.
      ++result->deltas_refused;
      refused->push_back(non_finite_delta(now_ms, identity, window_start, acc));
      return;
    }
    status = merge_delta(identity, window_start, acc, distinct, now_ms, on_time_after_ms, result);
  });
  return status;
}

Status Store::merge_delta(std::string_view identity, int64_t window_start, const Accumulator& acc,
                          const DistinctValues& distinct, int64_t now_ms, int64_t on_time_after_ms,
                          CommitResult* result) {
  // One Status returned from every path (here and in merge_window): the compiler then builds it
  // in place, where a second one would be moved, string and all, once per series and commit.
  WindowKey key{0, window_start, options_.window_size_s};
  Status status = series_.id_of(identity, &key.series_id);
  if (!status) return status;
  int64_t closes_on_time_ms = (window_start + key.size_s) * 1000 + options_.grace_ms;
  bool on_time = closes_on_time_ms > on_time_after_ms;
  // A late partial gathers a burst of late events for one grace; one opened before the window
  // would have closed on time (after an early close) stays open until then.
  int64_t closes_at_ms =
      on_time ? closes_on_time_ms : std::max(closes_on_time_ms, now_ms + options_.grace_ms);
  status =
      merge_window(key, identity, on_time ? int64_t{0} : commit_seq_, closes_at_ms, acc, result);
  for (const std::string& value : distinct) {
    if (!status) return status;
    status = windows_.add_distinct(key, value);
  }
  ++result->windows_updated;
  return status;
}

Status Store::merge_window(const WindowKey& key, std::string_view identity, int64_t revision,
                           int64_t closes_at_ms, const Accumulator& acc, CommitResult* result) {
  bool added = false;
  Status status = windows_.add_to_open(key, acc, &added);
  if (!status || added) return status;
  // No row, or one whose sum would leave the doubles (the UPDATE's guard): that row goes out as
  // it is, and the delta opens a new revision, so every record carries a finite sum.
  bool closed = false;
  status = close_one(key, identity, &closed, result);
  if (!status) return status;
  if (closed) {
    ++result->windows_split;
    // Fresh, as for a split distinct array: the closed row may have had this commit's number.
    revision = ++commit_seq_;
  }
  status = windows_.open_or_add(key, revision, closes_at_ms, acc);
  return status;
}

Status Store::close_one(const WindowKey& key, std::string_view identity, bool* closed,
                        CommitResult* result) {
  OpenWindow row;
  if (Status s = windows_.read(key, &row, closed); !s || !*closed) return s;
  row.identity = identity;
  if (Status s = close_row(row, result); !s) return s;
  return windows_.remove(key);
}

Status Store::close_due(int64_t until_ms, CommitResult* result) {
  Status status = windows_.for_each_due(
      until_ms, [&](const OpenWindow& row) { return close_row(row, result); });
  if (!status) return status;
  return windows_.remove_due(until_ms);
}

Status Store::close_row(const OpenWindow& row, CommitResult* result) {
  std::vector<std::string> arrays;
  if (Status s = windows_.distinct_arrays(row.key, &arrays); !s) return s;
  if (Status s = insert_partial(row.key, row.identity, row.revision, row.values, arrays); !s) {
    return s;
  }
  // Any later delta for this window must open a new revision, never revision 0 again.
  emitted_through_ms_ = std::max(
      emitted_through_ms_, (row.key.window_start + row.key.size_s) * 1000 + options_.grace_ms);
  ++result->windows_closed;
  return Status::ok();
}

Status Store::insert_partial(const WindowKey& key, std::string_view identity, int64_t revision,
                             const Accumulator& values, const std::vector<std::string>& arrays) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    Accumulator part = values;
    if (i > 0) {
      // A fresh revision, like a coarsened row's: no partial of this window has it.
      revision = ++commit_seq_;
      part.event_count = 0;
      part.value_sum = 0;
    }
    const std::string idempotency =
        idempotency_key(buffer_id_, identity, key.window_start, key.size_s, revision);
    NewOutboxRow row{idempotency, key.series_id, key.window_start, key.size_s,
                     revision,    part,          arrays[i]};
    if (Status s = outbox_.insert(row); !s) return s;
  }
  return Status::ok();
}

}  // namespace meterd
