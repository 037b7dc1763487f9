// The ingest thread's hand-over timer (see handoff_timer.h). Ticks are scheduled from the last
// expiry, not from when the handler ran, so commits keep their interval on a busy ingest
// thread; a tick that is late by more than an interval finds the slot full, as a rule, and
// leaves the batch to accumulate.
#include "agent/ingest/handoff_timer.h"

#include <boost/asio/error.hpp>

#include "buffer/base/clock.h"

namespace meterd {

HandoffTimer::HandoffTimer(boost::asio::io_context& io, std::chrono::milliseconds interval,
                           Ingest& ingest, BatchHandoff& handoff)
    : timer_(io), interval_(interval), ingest_(ingest), handoff_(handoff) {}

void HandoffTimer::start() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) { on_tick(ec); });
}

void HandoffTimer::on_tick(boost::system::error_code ec) {
  // A tick already due when finish() cancelled the timer still runs, without an error.
  if (ec || finishing_) return;
  if (handoff_.slot_free()) handoff_.hand_over(ingest_.take_batch());
  if (published_) published_->set(IngestSnapshot{ingest_.counters(), steady_clock_ms()});
  timer_.expires_at(timer_.expiry() + interval_);
  timer_.async_wait([this](boost::system::error_code ec) { on_tick(ec); });
}

void HandoffTimer::finish() {
  if (finishing_) return;
  finishing_ = true;
  timer_.cancel();
  hand_over_last();
}

void HandoffTimer::hand_over_last() {
  if (handoff_.closed()) return;  // the store thread's owner gave up on it: nobody would take it
  if (handoff_.slot_free()) {
    handoff_.hand_over(ingest_.take_batch());
    handoff_.close();
    return;
  }
  // The store thread is committing the batch before: look again shortly rather than block the
  // ingest thread, which still delivers acknowledgements.
  timer_.expires_after(kLastRetry);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec != boost::asio::error::operation_aborted) hand_over_last();
  });
}

}  // namespace meterd
