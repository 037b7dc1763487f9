// Durability: tells the acknowledged transports when their events are safe on disk, or that
// they were refused (the buffer is full, or commits kept failing) and must be resent later.
//
// Every payload is stamped with the generation of the ingest batch it joined (AcceptResult).
// After the store thread's commit of a batch returned, the commit loop's verdict is posted onto
// the ingest thread as settle_through(generation, durable), which runs the callback of every
// waiter at or below that generation: the Unix stream then writes its "ack" line and HTTP
// answers 204 ("acknowledged only after committed"), or both report the refusal.
//
// Threading: the ingest thread only, so waiters need no lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

namespace meterd {

class Durability {
 public:
  // Runs `done(true)` once `generation` is committed, `done(false)` if it was refused. A
  // generation already settled gets the last verdict at once (a payload's batch is handed over
  // only after it was accepted, so its own verdict comes later, as a rule).
  void when_durable(uint64_t generation, std::function<void(bool durable)> done) {
    if (generation <= settled_) return done(last_durable_);
    waiters_.emplace_back(generation, std::move(done));
  }

  // Generations settle in increasing order and waiters wait in the order they were accepted
  // (increasing generations too), so they are released from the front. The waiters released
  // are those above the previous settled generation: a commit holds every generation the
  // previous one did not (a failed commit's batch is merged with the next), so they share its
  // verdict.
  void settle_through(uint64_t generation, bool durable) {
    if (generation > settled_) settled_ = generation;
    last_durable_ = durable;
    while (!waiters_.empty() && waiters_.front().first <= settled_) {
      auto done = std::move(waiters_.front().second);
      waiters_.pop_front();
      done(durable);
    }
  }

  uint64_t settled_generation() const { return settled_; }

 private:
  uint64_t settled_ = 0;
  bool last_durable_ = true;
  std::deque<std::pair<uint64_t, std::function<void(bool)>>> waiters_;
};

}  // namespace meterd
