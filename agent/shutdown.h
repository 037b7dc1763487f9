// Shutdown: the signals that stop meterd, and the order it stops in.
//
// SIGTERM and SIGINT ask for a shutdown. SIGHUP is ignored with a warning: it would otherwise end
// the process, and a restart is how a new configuration is applied (it loses nothing: windows and
// outbox live in the buffer).
//
// The order is the durability order (Asio's http/server example stops the same way):
//   1. the listeners close, on the ingest thread as the signal arrives: no new payloads;
//   2. the last batch is handed over and committed while the ingest thread still runs, so Unix
//      stream and HTTP clients get the acknowledgements of everything they sent;
//   3. the ingest thread stops;
//   4. every open window is closed early (later events for it become revisions) and the outbox
//      drains to Kafka within `shutdown_timeout`; what could not be sent stays in the buffer for
//      the next start;
//   5. the uplink stops and a last commit deletes the rows the broker confirmed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <future>
#include <thread>

#include "agent/config/config.h"
#include "agent/ingest/commit_loop.h"
#include "agent/ingest/handoff_timer.h"
#include "buffer/store/store.h"
#include "uplink/kafka_forwarder.h"

namespace meterd {

// Threading: made before the io_context runs; the handlers run on its thread; wait() on the
// main thread.
class ShutdownSignals {
 public:
  // `on_stop` runs on the io_context's thread at the first SIGTERM or SIGINT (step 1).
  ShutdownSignals(boost::asio::io_context& io, std::function<void()> on_stop);
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until SIGTERM or SIGINT arrived and `on_stop` ran.
  void wait();

 private:
  void wait_for_hangup();
  void on_stop_signal(boost::system::error_code ec, int signal);

  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set hangups_;
  std::function<void()> on_stop_;
  std::promise<void> stop_requested_;
};

// The running agent's parts that steps 2 to 5 stop; run_agent owns them all.
struct RunningAgent {
  boost::asio::io_context& io;
  std::thread& ingest_thread;  // runs `io`
  HandoffTimer& handoff_timer;
  CommitLoop& commits;
  Store& store;
  KafkaForwarder& uplink;
};

// Main thread, after ShutdownSignals::wait(): steps 2 to 5.
void shut_down_in_order(const Config& config, const RunningAgent& agent);

}  // namespace meterd
