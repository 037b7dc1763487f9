// meterd's entry point. main() reads as the list of steps the agent goes through:
// load config → open buffer → start uplink → start listeners → run → drain.
//
// Shutdown (SIGTERM/SIGINT): listeners close, the last batch is committed, every open window is
// closed early (later events for it become revisions), and the outbox drains to Kafka within
// `shutdown_timeout`; what could not be sent stays in the buffer for the next start.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include <pthread.h>

#include "buffer/base/clock.h"
#include "agent/ingest/commit_loop.h"
#include "agent/config/config.h"
#include "agent/ingest/ingest.h"
#include "agent/meters/meter_set.h"
#include "agent/ingest/durability.h"
#include "agent/listeners/listeners.h"
#include "buffer/sqlite/buffer_lock.h"
#include "buffer/sqlite/recovery.h"
#include "buffer/store/store.h"
#include "uplink/kafka_forwarder.h"

namespace asio = boost::asio;
using namespace meterd;

namespace {

bool load_config_or_report(const std::string& path, Config* config) {
  std::vector<std::string> errors;
  if (load_config_file(path, config, &errors)) return true;
  std::cerr << "meterd: invalid configuration (" << errors.size() << " error"
            << (errors.size() == 1 ? "" : "s") << "):\n";
  for (const std::string& error : errors) std::cerr << "  " << error << "\n";
  return false;
}

// Takes the buffer for this agent alone, moves a damaged file aside, and opens the store.
Status open_buffer(const Config& config, BufferLock* lock, std::unique_ptr<Store>* store) {
  std::filesystem::path path(config.buffer.path);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (Status s = lock->acquire(config.buffer.path); !s) return s;
  std::string moved_to, reason;
  if (Status s = check_or_move_aside(config.buffer.path, &moved_to, &reason); !s) return s;
  if (!moved_to.empty()) {
    spdlog::error("the buffer {} is unreadable ({}); moved it to {} and starting on a new "
                  "buffer (buffer recoveries so far: {})",
                  config.buffer.path, reason, moved_to, recoveries_so_far(config.buffer.path));
  }
  // By name: a positional initialiser silently shifts when StoreOptions gains a field.
  StoreOptions options;
  options.path = config.buffer.path;
  options.agent_id = config.agent_id;
  options.window_size_s = config.windows.size_s;
  options.grace_ms = config.windows.grace_ms;
  options.dead_letter_limit = config.buffer.dead_letter_limit;
  options.dedup_window_ms = config.buffer.dedup_window_ms;
  options.max_size_bytes = config.buffer.max_size_bytes;
  options.dedup_max_bytes = config.buffer.dedup_max_size_bytes;
  options.coarsen_at_rows = config.buffer.coarsen_at_rows;
  options.partials_every_ms = config.windows.partials_every_ms;
  return Store::open(options, wall_clock_ms(), store);
}

Status start_uplink(const Config& config, Store& store, std::unique_ptr<KafkaForwarder>* out) {
  ForwarderOptions options;
  options.brokers = config.kafka.brokers;
  options.topic = config.kafka.topic;
  options.properties = config.kafka.properties;
  options.max_in_flight = static_cast<int>(config.kafka.max_in_flight);
  if (Status s = KafkaForwarder::create(options, store.agent_id(), store.path(), store, out); !s) {
    return s;
  }
  (*out)->start();
  return Status::ok();
}

// Before the listeners start: the cardinality bound counts the series already in open windows.
Status seed_cardinality(Store& store, Ingest& ingest) {
  int64_t now_ms = wall_clock_ms();
  return store.for_each_open_series([&](std::string_view identity, int64_t window_start) {
    ingest.seed_series(identity, window_start, now_ms);
  });
}

// Runs on the store thread: fetches the ingest thread's batch through the io_context, so the
// ingest path itself never takes a lock.
CommitBatch take_batch_from(asio::io_context& io, Ingest& ingest) {
  std::promise<CommitBatch> promise;
  auto batch = promise.get_future();
  asio::post(io, [&] { promise.set_value(ingest.take_batch()); });
  return batch.get();
}

// After the last commit: early close of open windows, then the outbox drains.
void drain(const Config& config, Store& store, CommitLoop& commits) {
  CommitResult closed;
  if (Status s = store.close_all_windows(wall_clock_ms(), &closed); !s) {
    spdlog::error("closing open windows at shutdown: {}", s.message());
  }
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config.shutdown_timeout_ms);
  while (commits.commit_now({}) && commits.outbox_rows() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (commits.outbox_rows() > 0) {
    spdlog::warn("shutdown: {} records not yet confirmed by Kafka stay buffered for the next start",
                 commits.outbox_rows());
  }
}

int run_agent(const Config& config) {
  BufferLock lock;
  std::unique_ptr<Store> store;
  if (Status s = open_buffer(config, &lock, &store); !s) {
    spdlog::critical("cannot open the buffer: {}", s.message());
    return 1;
  }
  spdlog::info("buffer {} open: agent_id {}, {} open windows, {} records to send", store->path(),
               store->agent_id(), store->open_window_rows(), store->outbox_rows());

  std::unique_ptr<KafkaForwarder> uplink;
  if (Status s = start_uplink(config, *store, &uplink); !s) {
    spdlog::critical("cannot start the Kafka uplink: {}", s.message());
    return 1;
  }

  asio::io_context io;
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  if (Status s = seed_cardinality(*store, ingest); !s) {
    spdlog::critical("cannot read the buffer's open windows: {}", s.message());
    return 1;
  }
  Durability durability;
  Listeners listeners;
  if (Status s = listeners.open(config.listeners, io, ingest, durability); !s) {
    spdlog::critical("{}", s.message());
    return 1;
  }

  // SIGHUP would otherwise end the process; a restart is how a new config is applied (it loses
  // nothing: windows and outbox live in the buffer), so say so and carry on.
  asio::signal_set hangups(io, SIGHUP);
  std::function<void(boost::system::error_code, int)> on_hangup =
      [&](boost::system::error_code ec, int) {
        if (ec) return;
        spdlog::warn("SIGHUP ignored: restart meterd to apply a new configuration (a restart "
                     "loses nothing)");
        hangups.async_wait(on_hangup);
      };
  hangups.async_wait(on_hangup);

  std::promise<void> shutdown_requested;
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int signal) {
    spdlog::info("signal {} received: shutting down", signal);
    listeners.close();
    hangups.cancel();
    shutdown_requested.set_value();
  });

  CommitLoop commits(
      *store, std::chrono::milliseconds(config.buffer.commit_interval_ms),
      [&] { return take_batch_from(io, ingest); },
      [&](uint64_t generation, bool durable) {
        asio::post(io, [&durability, generation, durable] {
          durability.settle_through(generation, durable);
        });
      });
  // Keeps the ingest thread running after the listeners closed, for the last hand-overs.
  auto keep_running = asio::make_work_guard(io);
  std::thread ingest_thread([&] {
    pthread_setname_np(pthread_self(), "ingest");  // top -H, perf and the bench tell threads apart
    io.run();
  });
  commits.start();
  spdlog::info("meterd ready");
  sd_notify(0, "READY=1");

  shutdown_requested.get_future().wait();
  sd_notify(0, "STOPPING=1");
  // The store thread stops first; the last batch is committed while the ingest thread still
  // runs, so stream and HTTP clients get the acknowledgements of everything they sent.
  commits.stop();
  if (Status s = commits.commit_now(take_batch_from(io, ingest)); !s) {
    spdlog::error("final commit failed: {}", s.message());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // lets the acks go out
  io.stop();
  ingest_thread.join();
  drain(config, *store, commits);
  uplink->stop();
  commits.commit_now({});  // deletes the last confirmed rows
  spdlog::info("meterd stopped: {} events accepted, {} rejected ({} over a cardinality limit), "
               "{} unmatched",
               ingest.counters().events_accepted.load(), ingest.counters().events_rejected.load(),
               ingest.counters().events_over_cardinality.load(),
               ingest.counters().events_unmatched.load());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meterd: edge usage-metering agent"};
  std::string config_path, check_path, log_level = "info";
  app.add_option("--config", config_path, "YAML configuration file");
  app.add_option("--check-config", check_path, "validate a configuration file and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("meterd"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  Config config;
  if (!check_path.empty()) {
    if (!load_config_or_report(check_path, &config)) return 2;
    std::cout << check_path << ": configuration OK (" << config.meters.size() << " meters)\n";
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << "meterd: --config FILE is required (see --help)\n";
    return 2;
  }
  if (!load_config_or_report(config_path, &config)) return 2;
  return run_agent(config);
}
