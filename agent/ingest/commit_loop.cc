// The store thread's loop (see commit_loop.h).
#include "agent/ingest/commit_loop.h"

#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include "buffer/base/clock.h"

namespace meterd {

CommitLoop::CommitLoop(Store& store, std::chrono::milliseconds interval,
                       std::function<CommitBatch()> take_batch,
                       std::function<void(uint64_t generation, bool durable)> on_settled)
    : store_(store),
      interval_(interval),
      take_batch_(std::move(take_batch)),
      on_settled_(std::move(on_settled)) {
  outbox_rows_ = store_.outbox_rows();
}

CommitLoop::~CommitLoop() { stop(); }

void CommitLoop::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store");
    run();
  });
}

void CommitLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CommitLoop::run() {
  auto next = std::chrono::steady_clock::now() + interval_;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) break;
    next += interval_;
    lock.unlock();
    pending_.merge_from(take_batch_());
    if (Status s = commit_pending(); !s) {
      spdlog::error("commit failed, keeping the batch in memory to retry: {}", s.message());
    }
    lock.lock();
  }
}

Status CommitLoop::commit_now(CommitBatch batch) {
  pending_.merge_from(std::move(batch));
  return commit_pending();
}

void CommitLoop::refuse_pending(const char* why) {
  if (pending_.events > 0) {
    events_refused_ += pending_.events;
    spdlog::warn("{}: {} events refused ({} in all); acknowledged clients are told to retry",
                 why, pending_.events, events_refused_.load());
  }
  if (pending_.generation != 0) on_settled_(pending_.generation, false);
  pending_ = CommitBatch{};
}

void CommitLoop::release_freed_memory(size_t batch_entries) {
  // A burst of series leaves megabytes of freed delta tables that glibc keeps in its heap, so
  // the agent's resident size would stay at its high-water mark. They are handed back once the
  // load has fallen (the first small batch after a large one): while large batches keep coming
  // the next interval's table reuses that memory, and trimming it would only make the kernel
  // zero it again.
  if (batch_entries >= kTrimAfterEntries) {
    trim_owed_ = true;
  } else if (trim_owed_) {
    trim_owed_ = false;
    malloc_trim(0);
  }
}

Status CommitLoop::commit_pending() {
  CommitResult result;
  Status status = store_.commit(pending_, wall_clock_ms(), steady_clock_ms(), &result);
  if (status && result.refused) {
    refuse_pending("the buffer is at buffer.max_size");
  } else if (!status && ++failed_commits_ >= kMaxFailedCommits) {
    refuse_pending("commits keep failing");
  }
  if (status) {
    failed_commits_ = 0;
    if (pending_.generation != 0) on_settled_(pending_.generation, true);
    if (result.rows_coarsened > 0) {
      spdlog::warn("outbox over buffer.coarsen_at: {} unsent partials merged into coarser windows",
                   result.rows_coarsened);
    }
    if (result.dedup_keys_shed > 0) {
      dedup_keys_shed_ += result.dedup_keys_shed;
      spdlog::warn("dedup keys over buffer.dedup_max_size: {} oldest forgotten ({} in all); "
                   "resends are now recognised for {:.1f} minutes after the first arrival "
                   "instead of buffer.dedup_window",
                   result.dedup_keys_shed, dedup_keys_shed_.load(),
                   static_cast<double>(result.dedup_horizon_ms) / 60'000.0);
    }
    if (result.windows_split > 0) {
      spdlog::warn("{} windows sent early so that their sums stay within a double's range",
                   result.windows_split);
    }
    if (result.deltas_refused > 0) {
      spdlog::error("{} merged deltas had sums beyond a double's range; kept as dead letters",
                    result.deltas_refused);
    }
    if (result.dead_letters_evicted > 0) {
      dead_letters_evicted_ += result.dead_letters_evicted;
      spdlog::warn("dead letters over buffer.dead_letter_limit: {} oldest evicted ({} in all)",
                   result.dead_letters_evicted, dead_letters_evicted_.load());
    }
    if (result.series_collected > 0) {
      spdlog::info("buffer: {} series with no open window and nothing to send forgotten",
                   result.series_collected);
    }
    size_t batch_entries = pending_.deltas.size() + pending_.keyed.events();
    pending_ = CommitBatch{};
    release_freed_memory(batch_entries);
    ++commits_;
    if (result.windows_closed || result.rows_deleted || result.duplicates_dropped) {
      spdlog::debug("commit: {} windows updated, {} closed, {} rows delivered, {} duplicates",
                    result.windows_updated, result.windows_closed, result.rows_deleted,
                    result.duplicates_dropped);
    }
  }
  outbox_rows_ = store_.outbox_rows();
  return status;
}

}  // namespace meterd
