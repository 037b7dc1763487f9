// HandoffTimer: the ingest thread's side of the hand-over. Every commit interval it hands the
// batch Ingest accumulated to the store thread (batch_handoff.h), if the slot is free; if the
// store thread is still busy with the last one, Ingest keeps accumulating and the next tick
// tries again. At shutdown, finish() hands over the last batch and closes the hand-over.
// Each tick also publishes a copy of Ingest's counters, so the per-event path needs no atomic
// for the admin listener to read them.
//
// The timer runs on the ingest thread, between payloads, so take_batch() needs no lock and the
// per-event path none either.
//
// Threading: start() before the io_context runs (or on its thread); finish() and the ticks on
// the io_context's thread (the ingest thread). `io`, `ingest` and `handoff` must outlive it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>

#include "agent/ingest/batch_handoff.h"
#include "agent/ingest/ingest.h"
#include "buffer/base/published.h"

namespace meterd {

class HandoffTimer {
 public:
  HandoffTimer(boost::asio::io_context& io, std::chrono::milliseconds interval, Ingest& ingest,
               BatchHandoff& handoff);
  HandoffTimer(const HandoffTimer&) = delete;
  HandoffTimer& operator=(const HandoffTimer&) = delete;

  // The first hand-over one interval from now, then one every interval.
  void start();
  // Where each tick publishes Ingest's counters; before start(). Must outlive the timer.
  void publish_to(Published<IngestSnapshot>* published) { published_ = published; }
  // Stops the ticks, hands over everything Ingest holds as soon as the slot is free (it checks
  // again every kLastRetry) and closes the hand-over: the store thread ends after committing it.
  void finish();

  // How long finish() waits for the store thread to take the batch before the last one.
  static constexpr std::chrono::milliseconds kLastRetry{5};

 private:
  void on_tick(boost::system::error_code ec);
  void hand_over_last();

  boost::asio::steady_timer timer_;
  const std::chrono::milliseconds interval_;
  Ingest& ingest_;
  BatchHandoff& handoff_;
  bool finishing_ = false;
  Published<IngestSnapshot>* published_ = nullptr;
};

}  // namespace meterd
