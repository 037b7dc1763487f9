// The commit's contract between the ingest thread and the store: what one commit takes
// (CommitBatch, with its DeadLetters) and what it reports (CommitResult).
//
// The ingest thread fills a CommitBatch and hands it over whole at each commit (one owner at a
// time: it is not thread-safe); Store::commit reads it and leaves it intact when the transaction
// fails, so the caller can merge the next interval into it and retry.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "buffer/windows/keyed_events.h"
#include "buffer/windows/window_table.h"

namespace meterd {

// An event that could not be metered, kept for an operator (FORMAT.md, `dead_letters`).
struct DeadLetter {
  int64_t received_ms = 0;
  std::string listener;
  std::string reason;
  std::string raw;
  // The reason's class, from a bounded set (a metrics label, the dead-letter record's field):
  // invalid, value, late, future, cardinality, oversized.
  std::string reason_code = "invalid";
};

// What the ingest thread hands over at each commit.
struct CommitBatch {
  WindowTable deltas;  // fire-and-forget transports
  KeyedEvents keyed;   // acknowledged transports, deduplicated by the store
  std::vector<DeadLetter> dead_letters;
  uint64_t generation = 0;  // the ingest thread's batch number (the last merged)
  int64_t events = 0;       // events that matched a meter, for counting refusals
  // Events accepted into this batch, in slots the agent indexes by transport (its Transport
  // enum): counted as accepted once the commit succeeds, as refused if the buffer refuses it.
  std::array<int64_t, 4> accepted_by_source{};

  bool empty() const { return deltas.empty() && keyed.empty() && dead_letters.empty(); }
  // Folds a batch that came after this one into it (after a failed commit).
  void merge_from(CommitBatch&& later);
};

// What one commit did, for logs and counters.
struct CommitResult {
  int64_t windows_updated = 0;
  int64_t windows_closed = 0;
  int64_t rows_deleted = 0;
  int64_t dead_letters_evicted = 0;
  int64_t duplicates_dropped = 0;
  bool refused = false;          // the buffer was full: the batch's events were not stored
  int64_t rows_coarsened = 0;    // outbox rows merged into coarser windows
  int64_t dedup_keys_shed = 0;   // dedup keys forgotten early: over dedup_max_bytes
  int64_t dedup_horizon_ms = 0;  // after shedding: how far back the oldest kept key reaches
  int64_t windows_split = 0;     // rows closed early so that a merge kept the sum finite
  int64_t deltas_refused = 0;    // non-finite deltas (from retried batches) kept as dead letters
  int64_t series_collected = 0;  // series rows deleted: no open window, nothing in the outbox
};

}  // namespace meterd
