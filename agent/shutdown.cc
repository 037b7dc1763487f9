// The shutdown signals and the ordered shutdown (see shutdown.h). Kept out of main.cc so main
// reads as the list of steps, and so the order, which is what keeps "acknowledged only after
// committed" and "committed before forgotten" true at exit, is written down in one place.
#include "agent/shutdown.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>

#include "buffer/base/clock.h"

namespace meterd {
namespace {

// How long the ingest thread keeps running after the last commit, for its acknowledgements to
// reach the clients.
constexpr std::chrono::milliseconds kAckGrace{200};
constexpr std::chrono::milliseconds kDrainPoll{50};

// Step 2: the hand-over timer's finish() runs on the ingest thread; the store thread commits
// that last batch and ends.
void commit_last_batch(const RunningAgent& agent) {
  boost::asio::post(agent.io, [&timer = agent.handoff_timer] { timer.finish(); });
  agent.commits.join();
  std::this_thread::sleep_for(kAckGrace);
}

// Step 3.
void stop_ingest_thread(const RunningAgent& agent) {
  agent.io.stop();
  agent.ingest_thread.join();
}

// Step 4: early close of open windows, then the outbox drains.
void drain(const Config& config, Store& store, CommitLoop& commits) {
  CommitResult closed;
  if (Status s = store.close_all_windows(wall_clock_ms(), &closed); !s) {
    spdlog::error("closing open windows at shutdown: {}", s.message());
  }
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config.shutdown_timeout_ms);
  while (commits.commit_now({}) && commits.outbox_rows() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kDrainPoll);
  }
  if (commits.outbox_rows() > 0) {
    spdlog::warn("shutdown: {} records not yet confirmed by Kafka stay buffered for the next start",
                 commits.outbox_rows());
  }
}

}  // namespace

ShutdownSignals::ShutdownSignals(boost::asio::io_context& io, std::function<void()> on_stop)
    : stop_signals_(io, SIGTERM, SIGINT), hangups_(io, SIGHUP), on_stop_(std::move(on_stop)) {
  stop_signals_.async_wait(
      [this](boost::system::error_code ec, int signal) { on_stop_signal(ec, signal); });
  wait_for_hangup();
}

void ShutdownSignals::wait() { stop_requested_.get_future().wait(); }

void ShutdownSignals::wait_for_hangup() {
  hangups_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;  // cancelled at shutdown
    spdlog::warn("SIGHUP ignored: restart meterd to apply a new configuration (a restart "
                 "loses nothing)");
    wait_for_hangup();
  });
}

void ShutdownSignals::on_stop_signal(boost::system::error_code, int signal) {
  spdlog::info("signal {} received: shutting down", signal);
  on_stop_();
  hangups_.cancel();
  stop_requested_.set_value();
}

void shut_down_in_order(const Config& config, const RunningAgent& agent) {
  commit_last_batch(agent);
  stop_ingest_thread(agent);
  drain(config, agent.store, agent.commits);
  agent.uplink.stop();
  agent.commits.commit_now({});  // deletes the last confirmed rows
}

}  // namespace meterd
