// CommitLoop: the store thread. It takes each batch the ingest thread hands over (batch_handoff.h,
// once a commit interval) and commits it: merge deltas, close due windows into the outbox,
// delete delivered rows.
//
// Durability order: a generation is settled only after the commit that holds it returned, so an
// acknowledged client hears "durable" only for events SQLite has synced ("acknowledged only
// after committed"); `on_settled` runs on the store thread, and its caller posts the verdict
// onto the ingest thread (Durability::settle_through).
//
// A failed commit (a full disk, say) keeps the batch in memory, merged with the next one, and
// retries when the next batch arrives; after kMaxFailedCommits in a row the pending events are
// dropped (counted, and refused to their acknowledged clients) so memory stays bounded while
// the disk is full. A commit the store refused because the buffer is at its size limit refuses
// its events the same way. The agent keeps forwarding in both cases.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "agent/ingest/batch_handoff.h"
#include "buffer/base/histogram.h"
#include "buffer/base/log_limiter.h"
#include "buffer/base/published.h"
#include "buffer/store/store.h"

namespace meterd {

// What the store thread has done since start, published after each commit (the admin listener's
// metrics and health read it). Events by transport, in the slots of
// CommitBatch::accepted_by_source.
struct StoreStats {
  std::array<int64_t, 4> accepted{};  // events in a batch that committed
  std::array<int64_t, 4> refused{};   // events in a batch the buffer refused or that kept failing
  int64_t deduplicated = 0;           // acknowledged events dropped as resends
  int64_t commit_failures = 0;        // commits that failed (each retried with the next batch)
  int64_t dead_letters_evicted = 0;   // over buffer.dead_letter_limit
  int64_t records_coarsened = 0;      // outbox rows merged into coarser windows
  int64_t dedup_keys = 0;             // kept now (their bytes are not the usage max_size bounds)
  bool refusing = false;  // the last commit that held events was refused: the buffer is full
  Histogram commit_seconds;
  int64_t tick_steady_ms = 0;  // when the loop last took a batch (steady_clock_ms)
};

class CommitLoop {
 public:
  // `on_settled` is called on the store thread with the newest generation a commit held and
  // whether its events are durable (false: refused), so the acknowledged transports can answer
  // their clients. `store` and `handoff` must outlive the loop.
  CommitLoop(Store& store, BatchHandoff& handoff,
             std::function<void(uint64_t generation, bool durable)> on_settled);
  // Closes the hand-over if the thread still runs, and waits for it.
  ~CommitLoop();
  CommitLoop(const CommitLoop&) = delete;
  CommitLoop& operator=(const CommitLoop&) = delete;

  // Starts the store thread: it commits every batch handed over, until the hand-over closes.
  void start();
  // Waits for the store thread to end: once the hand-over is closed and its last batch committed
  // (or kept pending, if that commit failed).
  void join();

  // With the thread ended (at shutdown): commits `batch` after anything still pending.
  Status commit_now(CommitBatch batch);

  // Any thread.
  int64_t outbox_rows() const { return outbox_rows_.load(); }
  // Commits that failed in a row since the last one that succeeded.
  int failed_commits() const { return failed_commits_.load(); }
  int64_t events_refused() const { return events_refused_.load(); }
  int64_t dedup_keys_shed() const { return dedup_keys_shed_.load(); }
  // Any thread: a copy of what the loop published after its last commit.
  StoreStats stats() const { return published_.get(); }

  static constexpr int kMaxFailedCommits = 5;

 private:
  void run();
  Status commit_pending();
  void refuse_pending(const char* why);
  // Logs and counts what a successful commit did beyond the merge.
  void report(const CommitResult& result);
  // Returns the heap pages a large committed batch left free to the system (malloc_trim).
  void release_freed_memory(size_t batch_entries);
  static constexpr size_t kTrimAfterEntries = 10'000;

  Store& store_;
  BatchHandoff& handoff_;
  std::function<void(uint64_t, bool)> on_settled_;
  // The store thread's (or, once it ended, commit_now's caller's); failed_commits_ is read by any.
  std::atomic<int> failed_commits_{0};  // in a row
  bool trim_owed_ = false;
  CommitBatch pending_;
  std::thread thread_;
  std::atomic<int64_t> outbox_rows_{0};
  std::atomic<int64_t> events_refused_{0};
  std::atomic<int64_t> dedup_keys_shed_{0};
  StoreStats stats_;  // the store thread's; a copy goes to published_ after each commit
  Published<StoreStats> published_;
  // Warnings a full disk or buffer, or a flood of invalid events, repeats every commit: three at
  // once, then one per 10 s with the count held back.
  LogLimiter failure_log_{10'000, 3};
  LogLimiter refusal_log_{10'000, 3};
  LogLimiter eviction_log_{10'000, 3};
};

}  // namespace meterd
