// BatchHandoff: the one-way hand-over of ingest batches from the ingest thread to the store
// thread, a queue of one slot.
//
// One slot, not a queue: while the store thread is still committing, the ingest thread finds the
// slot full and keeps accumulating in Ingest's own delta table, where repeated series cost an
// addition, not a row. A deeper queue would hold several tables of the same series for the
// store thread to merge; a merge on the ingest thread would cost the hot path. So memory stays
// at three batches however slow the disk is: the one being committed (with any it retries), the
// one in the slot, the one accumulating.
//
// The hand-over only moves batches one way. The store thread answers through
// Durability::settle_through, posted onto the ingest thread's io_context (commit_loop.h), so the
// ingest thread never waits for the store thread: its only lock is this slot's, taken once per
// commit interval, never per event.
//
// Threading: one producer (the ingest thread) calls slot_free, hand_over and close; one
// consumer (the store thread) calls take. close may also be called by the consumer's owner at
// destruction, to release a take that would otherwise wait forever.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "buffer/store/store.h"

namespace meterd {

class BatchHandoff {
 public:
  // Producer: whether a batch handed over now would be taken. False while the store thread has
  // not yet taken the last one, and once closed.
  bool slot_free() const {
    std::lock_guard lock(mutex_);
    return !slot_ && !closed_;
  }

  // Producer, after slot_free() said yes (only the producer fills the slot, so it is still
  // free): puts `batch` in the slot and wakes the store thread.
  void hand_over(CommitBatch batch) {
    {
      std::lock_guard lock(mutex_);
      slot_.emplace(std::move(batch));
    }
    changed_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  // No batch follows: take() still returns the one in the slot, then false.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }

  // Consumer: waits for a batch and moves it into `batch`; false once the hand-over is closed
  // and the slot empty.
  bool take(CommitBatch* batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return slot_ || closed_; });
    if (!slot_) return false;
    *batch = std::move(*slot_);
    slot_.reset();
    return true;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<CommitBatch> slot_;  // guarded by mutex_
  bool closed_ = false;              // guarded by mutex_
};

}  // namespace meterd
