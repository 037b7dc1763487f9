// Merging batches kept over failed commits (see commit_batch.h).
#include "buffer/store/commit_batch.h"

#include <algorithm>

namespace meterd {

void CommitBatch::merge_from(CommitBatch&& later) {
  if (empty()) {
    uint64_t newest = std::max(generation, later.generation);
    int64_t total = events + later.events;
    std::array<int64_t, 4> accepted = accepted_by_source;
    *this = std::move(later);
    generation = newest;
    events = total;
    for (size_t i = 0; i < accepted.size(); ++i) accepted_by_source[i] += accepted[i];
    return;
  }
  generation = std::max(generation, later.generation);
  events += later.events;
  for (size_t i = 0; i < accepted_by_source.size(); ++i) {
    accepted_by_source[i] += later.accepted_by_source[i];
  }
  deltas.merge_from(later.deltas);
  keyed.append(later.keyed);
  for (auto& letter : later.dead_letters) dead_letters.push_back(std::move(letter));
}

}  // namespace meterd
