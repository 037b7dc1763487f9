// Durability: tells the acknowledged transports when their events are safe on disk, or that
// they were refused (the buffer is full) and must be resent later.
//
// Every payload is stamped with the generation of the ingest batch it joined (AcceptResult);
// after the store committed a batch, the commit loop posts durable_through(generation) onto the
// ingest thread, which runs the callbacks of every waiter at or below it: the Unix stream then
// writes its "ack" line and HTTP answers 204. "Acknowledged only after committed".
// Threading: the ingest thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

namespace meterd {

class Durability {
 public:
  // Runs `done(true)` once `generation` is committed, `done(false)` if it was refused.
  void when_durable(uint64_t generation, std::function<void(bool durable)> done) {
    if (generation <= settled_) return done(last_durable_);
    waiters_.emplace_back(generation, std::move(done));
  }

  // Generations settle in order, so waiters are released from the front; every waiter up to
  // `generation` was part of the same commit (or refusal).
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
