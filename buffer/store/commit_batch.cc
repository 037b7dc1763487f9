// Merging batches kept over failed commits (see commit_batch.h).
#include "buffer/store/commit_batch.h"

#include <algorithm>

namespace meterd {

void CommitBatch::merge_from(CommitBatch&& later) {
  if (empty()) {
    uint64_t newest = std::max(generation, later.generation);
    int64_t total = events + later.events;
    *this = std::move(later);
    generation = newest;
    events = total;
    return;
  }
  generation = std::max(generation, later.generation);
  events += later.events;
  deltas.merge_from(later.deltas);
  keyed.append(later.keyed);
  for (auto& letter : later.dead_letters) dead_letters.push_back(std::move(letter));
}

}  // namespace meterd
