// Outbox coarsening: merging the partials of a long outage into hourly windows, so a days-long
// outage fits in a bounded buffer: at most one row per series and hour instead of one per minute
// (see store.h and FORMAT.md). Hours are the coarsest level on purpose: hourly and daily totals
// stay exact; only minute resolution is given up for the outage.
//
// Only rows the uplink has not read are merged (seq > claimed_through_, checked under the claim
// mutex, which commit() holds until the merge is committed): a row already handed to librdkafka
// may still be confirmed, and merging it as well would count it twice. Each merged row is a new
// partial with a fresh revision (a new commit sequence number), so its key collides with no
// earlier partial.
#include "buffer/store/store.h"

namespace meterd {
namespace {

constexpr int64_t kCoarseSize = 3600;

}  // namespace

// The coarsenable rows of one series and coarse window, merged in seq order.
struct Store::CoarseGroup {
  int64_t series_id = -1;
  std::string identity;
  int64_t start = 0;
  Accumulator values;
  std::vector<int64_t> seqs;
  bool has_finer = false;  // a row finer than the coarse size: something to merge
};

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
  std::vector<CoarseGroup> groups;
  Status s = outbox_.for_each_coarsenable(size_s, claimed_through, [&](const CoarsenableRow& row) {
    if (groups.empty() || groups.back().series_id != row.series_id ||
        groups.back().start != row.coarse_start) {
      groups.push_back(
          CoarseGroup{row.series_id, std::string(row.identity), row.coarse_start, {}, {}});
    }
    groups.back().values.merge(row.values);
    groups.back().seqs.push_back(row.seq);
    groups.back().has_finer |= row.window_size_s < size_s;
  });
  if (!s) return s;

  int64_t revision = 0;
  for (const CoarseGroup& group : groups) {
    // Nothing to gain: one row, or only rows of this size already. The latter are one earlier
    // merge whose distinct values took several rows (distinct_chunks.h); merging them again
    // would only rewrite them, on every commit of the outage.
    if (group.seqs.size() < 2 || !group.has_finer) continue;
    if (revision == 0) revision = ++commit_seq_;  // fresh: no earlier partial has it
    if (s = merge_group(group, size_s, claimed_through, revision); !s) return s;
    result->rows_coarsened += static_cast<int64_t>(group.seqs.size());
  }
  return Status::ok();
}

Status Store::merge_group(const CoarseGroup& group, int64_t size_s, int64_t claimed_through,
                          int64_t revision) {
  DistinctChunks chunks;
  if (Status s =
          outbox_.distinct_union(size_s, claimed_through, group.series_id, group.start, &chunks);
      !s) {
    return s;
  }
  for (int64_t seq : group.seqs) {
    if (Status s = outbox_.remove(seq); !s) return s;
  }
  return insert_partial(WindowKey{group.series_id, group.start, size_s}, group.identity, revision,
                        group.values, chunks.take());
}

}  // namespace meterd
