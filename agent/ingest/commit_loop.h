// CommitLoop: the store thread. Every `commit_interval` it takes the ingest thread's batch and
// commits it (merge deltas, close due windows into the outbox, delete delivered rows).
//
// A failed commit (a full disk, say) keeps the batch in memory, merged with the next one, and
// retries at the next interval; after kMaxFailedCommits in a row the pending events are dropped
// (counted, and refused to their acknowledged clients) so memory stays bounded while the disk is
// full. A commit the store refused because the buffer is at its size limit refuses its events
// the same way. The agent keeps forwarding in both cases.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "buffer/store/store.h"

namespace meterd {

class CommitLoop {
 public:
  // `take_batch` is called on the store thread and must return the ingest thread's batch;
  // `on_settled` is called there with the newest generation a commit held and whether its events
  // are durable (false: refused), so the acknowledged transports can answer their clients.
  CommitLoop(Store& store, std::chrono::milliseconds interval,
             std::function<CommitBatch()> take_batch,
             std::function<void(uint64_t generation, bool durable)> on_settled);
  ~CommitLoop();

  void start();
  // Stops the thread after its current commit. A batch that could not be committed stays
  // pending for commit_pending().
  void stop();

  // With the thread stopped: commits `batch` after anything still pending.
  Status commit_now(CommitBatch batch);

  int64_t outbox_rows() const { return outbox_rows_.load(); }
  int64_t commits() const { return commits_.load(); }
  int64_t dead_letters_evicted() const { return dead_letters_evicted_.load(); }
  int64_t events_refused() const { return events_refused_.load(); }
  int64_t dedup_keys_shed() const { return dedup_keys_shed_.load(); }

  static constexpr int kMaxFailedCommits = 5;

 private:
  void run();
  Status commit_pending();
  void refuse_pending(const char* why);
  // Returns the heap pages a large committed batch left free to the system (malloc_trim).
  void release_freed_memory(size_t batch_entries);
  static constexpr size_t kTrimAfterEntries = 10'000;

  Store& store_;
  const std::chrono::milliseconds interval_;
  std::function<CommitBatch()> take_batch_;
  std::function<void(uint64_t, bool)> on_settled_;
  int failed_commits_ = 0;  // in a row
  bool trim_owed_ = false;
  CommitBatch pending_;  // store thread only
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::atomic<int64_t> outbox_rows_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> dead_letters_evicted_{0};
  std::atomic<int64_t> events_refused_{0};
  std::atomic<int64_t> dedup_keys_shed_{0};
};

}  // namespace meterd
