// Durability: tells the acknowledged transports when their events are safe on disk.
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
  // Runs `done` once `generation` is committed (at once if it already is).
  void when_durable(uint64_t generation, std::function<void()> done) {
    if (generation <= durable_) return done();
    waiters_.emplace_back(generation, std::move(done));
  }

  // Generations are committed in order, so waiters are released from the front.
  void durable_through(uint64_t generation) {
    if (generation > durable_) durable_ = generation;
    while (!waiters_.empty() && waiters_.front().first <= durable_) {
      auto done = std::move(waiters_.front().second);
      waiters_.pop_front();
      done();
    }
  }

  uint64_t durable_generation() const { return durable_; }

 private:
  uint64_t durable_ = 0;
  std::deque<std::pair<uint64_t, std::function<void()>>> waiters_;
};

}  // namespace meterd
