// Outbox coarsening: merging the partials of a long outage into hourly windows, so a days-long
// outage fits in a bounded buffer: at most one row per series and hour instead of one per minute
// (see store.h and FORMAT.md). Hours are the coarsest level on purpose: hourly and daily totals
// stay exact; only minute resolution is given up for the outage.
//
// Only rows the uplink has not read are merged (seq > claimed_through_, checked under the claim
// mutex, which commit() holds until the merge is committed): a row already handed to librdkafka may still be confirmed, and
// merging it as well would count it twice. Each merged row is a new partial with a fresh revision
// (a new commit sequence number), so its key collides with no earlier partial.
#include <fmt/format.h>

#include "buffer/store/accumulator_columns.h"
#include "buffer/windows/distinct_chunks.h"
#include "buffer/store/store.h"

namespace meterd {
namespace {

constexpr int64_t kCoarseSize = 3600;

}  // namespace

void Store::claim_outbox_rows(const std::function<int64_t()>& read) {
  std::lock_guard lock(claim_mutex_);
  claimed_through_ = std::max(claimed_through_, read());
}

Status Store::coarsen_outbox(CommitResult* result) {
  if (options_.coarsen_at_rows <= 0 || outbox_rows() <= options_.coarsen_at_rows) {
    return Status::ok();
  }
  // commit() holds claim_mutex_ for its whole transaction (see there).
  return coarsen_to(kCoarseSize, claimed_through_, result);
}

Status Store::coarsen_to(int64_t size_s, int64_t claimed_through, CommitResult* result) {
  // Unread rows of this size or finer (earlier merges of this size merge again with finer rows
  // of their hour), grouped by series and coarse window, each group in seq order so
  // Accumulator::merge sees later partials last (LATEST's ties go to the later arrival).
  Statement rows;
  Status s = rows.prepare(db_.get(), R"sql(
    SELECT o.series_id, s.identity, o.window_start - o.window_start % ?1 AS coarse_start,
           o.event_count, o.value_sum, o.value_min, o.value_max, o.latest_value,
           o.latest_time_ms, o.seq, o.window_size_s
    FROM outbox o JOIN series s USING (series_id)
    WHERE o.seq > ?2 AND o.window_size_s <= ?1
    ORDER BY o.series_id, coarse_start, o.seq)sql");
  Statement remove, distinct_union;
  if (s) s = remove.prepare(db_.get(), "DELETE FROM outbox WHERE seq = ?1");
  // UNIQUE_COUNT: the merged partial carries the union of its parts' distinct values, sorted
  // and quoted as at close (store.cc), cut into arrays of one record each.
  if (s) {
    s = distinct_union.prepare(db_.get(), R"sql(
      SELECT json_quote(value) FROM (
        SELECT DISTINCT j.value AS value FROM outbox o, json_each(o.distinct_values) j
        WHERE o.seq > ?2 AND o.window_size_s <= ?1 AND o.series_id = ?3
          AND o.window_start - o.window_start % ?1 = ?4)
      ORDER BY value)sql");
  }
  if (!s) return s;

  struct Group {
    int64_t series_id = -1;
    std::string identity;
    int64_t start = 0;
    Accumulator values;
    std::vector<int64_t> seqs;
    bool has_finer = false;  // a row finer than size_s: something to merge
  };
  std::vector<Group> groups;
  {
    StatementUse use(rows);
    rows.bind(1, size_s);
    rows.bind(2, claimed_through);
    while (rows.step(&s)) {
      int64_t series_id = rows.column_int(0), start = rows.column_int(2);
      if (groups.empty() || groups.back().series_id != series_id || groups.back().start != start) {
        groups.push_back(Group{series_id, std::string(rows.column_text(1)), start, {}, {}});
      }
      groups.back().values.merge(read_accumulator(rows, 3));
      groups.back().seqs.push_back(rows.column_int(9));
      groups.back().has_finer |= rows.column_int(10) < size_s;
    }
  }
  if (!s) return s;

  int64_t revision = 0;
  for (const Group& group : groups) {
    // Nothing to gain: one row, or only rows of this size already. The latter are one earlier
    // merge whose distinct values took several rows (distinct_chunks.h); merging them again
    // would only rewrite them, on every commit of the outage.
    if (group.seqs.size() < 2 || !group.has_finer) continue;
    if (revision == 0) revision = ++commit_seq_;  // fresh: no earlier partial has it
    DistinctChunks chunks;
    {
      StatementUse use(distinct_union);
      distinct_union.bind(1, size_s);
      distinct_union.bind(2, claimed_through);
      distinct_union.bind(3, group.series_id);
      distinct_union.bind(4, group.start);
      while (distinct_union.step(&s)) chunks.add_quoted(distinct_union.column_text(0));
      if (!s) return s;
    }
    for (int64_t seq : group.seqs) {
      StatementUse use(remove);
      remove.bind(1, seq);
      if (Status r = remove.run(); !r) return r;
    }
    outbox_rows_ -= static_cast<int64_t>(group.seqs.size());
    if (Status r = insert_partial(group.series_id, group.identity, group.start, size_s, revision,
                                  group.values, chunks.take());
        !r) {
      return r;
    }
    result->rows_coarsened += static_cast<int64_t>(group.seqs.size());
  }
  return Status::ok();
}

}  // namespace meterd
