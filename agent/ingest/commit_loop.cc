// The store thread's loop (see commit_loop.h): take the handed-over batch, commit it with
// whatever an earlier failed commit left pending, settle its generation, report what the commit
// did. Kept apart from the store so the store stays a plain, single-threaded API that tests and
// the shutdown path call directly.
#include "agent/ingest/commit_loop.h"

#include <malloc.h>

#include <chrono>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include "buffer/base/clock.h"

namespace meterd {

CommitLoop::CommitLoop(Store& store, BatchHandoff& handoff,
                       std::function<void(uint64_t generation, bool durable)> on_settled)
    : store_(store), handoff_(handoff), on_settled_(std::move(on_settled)) {
  outbox_rows_ = store_.outbox_rows();
}

CommitLoop::~CommitLoop() {
  if (thread_.joinable()) handoff_.close();
  join();
}

void CommitLoop::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store");  // top -H, perf and the bench tell threads apart
    run();
  });
}

void CommitLoop::join() {
  if (thread_.joinable()) thread_.join();
}

void CommitLoop::run() {
  CommitBatch batch;
  while (handoff_.take(&batch)) {
    pending_.merge_from(std::move(batch));
    uint64_t suppressed = 0;
    if (Status s = commit_pending(); !s && failure_log_.allow(steady_clock_ms(), &suppressed)) {
      spdlog::error("commit failed, keeping the batch in memory to retry: {}{}", s.message(),
                    suppressed_note(suppressed));
    }
  }
}

Status CommitLoop::commit_now(CommitBatch batch) {
  pending_.merge_from(std::move(batch));
  return commit_pending();
}

void CommitLoop::refuse_pending(const char* why) {
  for (size_t i = 0; i < stats_.refused.size(); ++i) {
    stats_.refused[i] += pending_.accepted_by_source[i];
  }
  uint64_t suppressed = 0;
  if (pending_.events > 0) {
    events_refused_ += pending_.events;
    if (refusal_log_.allow(steady_clock_ms(), &suppressed)) {
      spdlog::warn("{}: {} events refused ({} in all); acknowledged clients are told to retry{}",
                   why, pending_.events, events_refused_.load(), suppressed_note(suppressed));
    }
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
  auto started = std::chrono::steady_clock::now();
  Status status = store_.commit(pending_, wall_clock_ms(), steady_clock_ms(), &result);
  stats_.commit_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  stats_.tick_steady_ms = steady_clock_ms();
  bool held_events = pending_.events > 0;
  if (status && result.refused) {
    refuse_pending("the buffer is at buffer.max_size");
  } else if (!status && ++failed_commits_ >= kMaxFailedCommits) {
    refuse_pending("commits keep failing");
  }
  if (!status) ++stats_.commit_failures;
  if (status && held_events) stats_.refusing = result.refused;
  if (status) {
    failed_commits_ = 0;
    for (size_t i = 0; i < stats_.accepted.size(); ++i) {
      stats_.accepted[i] += pending_.accepted_by_source[i];  // zero after a refusal: reset
    }
    // Committed before acknowledged: the verdict goes out only once store_.commit returned.
    if (pending_.generation != 0) on_settled_(pending_.generation, true);
    report(result);
    size_t batch_entries = pending_.deltas.size() + pending_.keyed.events();
    pending_ = CommitBatch{};
    release_freed_memory(batch_entries);
  }
  outbox_rows_ = store_.outbox_rows();
  stats_.dedup_keys = store_.dedup_keys();
  published_.set(stats_);
  return status;
}

void CommitLoop::report(const CommitResult& result) {
  stats_.deduplicated += result.duplicates_dropped;
  stats_.records_coarsened += result.rows_coarsened;
  stats_.dead_letters_evicted += result.dead_letters_evicted;
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
  uint64_t suppressed = 0;
  if (result.dead_letters_evicted > 0) {
    if (eviction_log_.allow(steady_clock_ms(), &suppressed)) {
      spdlog::warn("dead letters over buffer.dead_letter_limit: {} oldest evicted ({} in all){}",
                   result.dead_letters_evicted, stats_.dead_letters_evicted,
                   suppressed_note(suppressed));
    }
  }
  if (result.series_collected > 0) {
    spdlog::info("buffer: {} series with no open window and nothing to send forgotten",
                 result.series_collected);
  }
  if (result.windows_closed || result.rows_deleted || result.duplicates_dropped) {
    spdlog::debug("commit: {} windows updated, {} closed, {} rows delivered, {} duplicates",
                  result.windows_updated, result.windows_closed, result.rows_deleted,
                  result.duplicates_dropped);
  }
}

}  // namespace meterd
