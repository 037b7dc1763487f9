// The store thread's commit loop against a real Store: a generation is settled only after the
// commit holding it returned (durable), refused when the buffer is full, and a failing commit
// keeps its batch to retry with the next until kMaxFailedCommits, when its events are refused.
// The verdicts are what Durability hands to the acknowledged clients (durability_test.cc).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/ingest/batch_handoff.h"
#include "agent/ingest/commit_loop.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/store.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::TempBuffer;

namespace {

// Dead letters committed to the buffer, read through a connection of its own: what a commit
// made durable, not what the store holds in memory.
int64_t committed_dead_letters(const std::string& path) {
  SqliteDb db;
  Statement count;
  Status status = open_database(path, true, &db);
  if (status) status = count.prepare(db.get(), "SELECT count(*) FROM dead_letters");
  if (!status || !count.step(&status)) return -1;
  int64_t rows = count.column_int(0);
  count.reset();
  return rows;
}

// One batch of generation `generation` with one dead letter of `raw_bytes` bytes.
CommitBatch batch_of(uint64_t generation, int64_t events, size_t raw_bytes = 10) {
  CommitBatch batch;
  batch.generation = generation;
  batch.events = events;
  batch.dead_letters.push_back(DeadLetter{1, "test", "why", std::string(raw_bytes, 'x')});
  return batch;
}

struct Verdict {
  uint64_t generation;
  bool durable;
  int64_t dead_letters_on_disk;  // when the verdict was given
  bool operator==(const Verdict&) const = default;
};

// A store, its commit loop running, and the verdicts it gave (in the order it gave them).
struct RunningLoop {
  std::unique_ptr<Store> store;
  BatchHandoff handoff;
  std::mutex mutex;
  std::vector<Verdict> verdicts;  // guarded by mutex
  std::unique_ptr<CommitLoop> loop;

  explicit RunningLoop(const StoreOptions& options) {
    REQUIRE(Store::open(options, 0, &store));
    loop = std::make_unique<CommitLoop>(*store, handoff, [this, options](uint64_t g, bool durable) {
      int64_t on_disk = committed_dead_letters(options.path);
      std::lock_guard lock(mutex);
      verdicts.push_back({g, durable, on_disk});
    });
    loop->start();
  }
  // As the ingest loop's timer does, except that it waits for the slot instead of accumulating.
  void hand_over(CommitBatch batch) {
    while (!handoff.slot_free()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    handoff.hand_over(std::move(batch));
  }
  // Closes the hand-over and waits for the loop to commit what it was given.
  std::vector<Verdict> finish() {
    handoff.close();
    loop->join();
    std::lock_guard lock(mutex);
    return verdicts;
  }
};

}  // namespace

TEST_CASE("commit loop settles each generation durable only after its commit") {
  TempBuffer temp;
  RunningLoop running(temp.options());
  running.hand_over(batch_of(1, 1));
  running.hand_over(batch_of(2, 1));
  // Each verdict came after its batch's dead letter was on disk.
  CHECK(running.finish() == std::vector<Verdict>{{1, true, 1}, {2, true, 2}});
  CHECK(running.loop->events_refused() == 0);
}

TEST_CASE("commit loop settles false the events a full buffer refuses, and counts them") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.max_size_bytes = 4096;  // one page: the empty schema is already larger
  RunningLoop running(options);
  running.hand_over(batch_of(1, 3));
  CHECK(running.finish() == std::vector<Verdict>{{1, false, 0}});
  CHECK(running.loop->events_refused() == 3);
}

TEST_CASE("commit loop retries a failed commit merged with the next batch") {
  TempBuffer temp;
  RunningLoop running(temp.options());
  // Another connection holds the write lock: the commit fails once SQLite's busy timeout ends.
  SqliteDb other;
  REQUIRE(open_database(temp.options().path, false, &other));
  REQUIRE(exec(other.get(), "BEGIN IMMEDIATE"));
  running.hand_over(batch_of(1, 1));
  while (running.loop->failed_commits() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(exec(other.get(), "ROLLBACK"));
  running.hand_over(batch_of(2, 1));
  // Generation 1 was never settled alone: it became durable with generation 2's commit.
  CHECK(running.finish() == std::vector<Verdict>{{2, true, 2}});
  CHECK(running.loop->failed_commits() == 0);
}

TEST_CASE("commit loop refuses the pending events after kMaxFailedCommits failures in a row") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  // Usage under the soft limit, so nothing is refused up front; but the first batch's dead letter
  // is larger than the hard stop (max_page_count), so every commit holding it fails.
  options.max_size_bytes = 256 * 1024;
  RunningLoop running(options);
  running.hand_over(batch_of(1, 1, 2 << 20));
  for (uint64_t generation = 2; generation <= CommitLoop::kMaxFailedCommits + 1; ++generation) {
    running.hand_over(batch_of(generation, 1));
  }
  // Generations 1 to 4 failed and were kept; the 5th failure refused them all with the 5th's
  // own events; the 6th batch, alone, committed.
  CHECK(running.finish() ==
        std::vector<Verdict>{{CommitLoop::kMaxFailedCommits, false, 0},
                             {CommitLoop::kMaxFailedCommits + 1, true, 1}});
  CHECK(running.loop->events_refused() == CommitLoop::kMaxFailedCommits);
}
