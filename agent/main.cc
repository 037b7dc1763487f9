// meterd's entry point. run_agent() reads as the list of steps the agent goes through:
// open buffer → start uplink → build ingest → open listeners → start threads → wait for a
// signal → shut down in order (shutdown.h says the order and why).
//
// Three threads: the ingest thread runs the io_context (listeners, the per-event pipeline, the
// hand-over timer, acknowledgements), the store thread commits what it is handed
// (agent/ingest/commit_loop.h), the uplink thread sends the outbox to Kafka
// (uplink/kafka_forwarder.h). The main thread sets them up, waits, and stops them.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <iostream>
#include <thread>

#include <pthread.h>

#include "agent/admin/admin_listener.h"
#include "agent/config/config.h"
#include "agent/ingest/batch_handoff.h"
#include "agent/ingest/commit_loop.h"
#include "agent/ingest/durability.h"
#include "agent/ingest/handoff_timer.h"
#include "agent/ingest/ingest.h"
#include "agent/listeners/listeners.h"
#include "agent/logging/log_setup.h"
#include "agent/meters/meter_set.h"
#include "agent/shutdown.h"
#include "buffer/base/clock.h"
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
  options.dead_letter_topic = config.kafka.dead_letter_topic;
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

// Posts the store thread's verdict onto the ingest thread, where the waiters live.
std::function<void(uint64_t, bool)> settle_on_ingest_thread(asio::io_context& io,
                                                            Durability& durability) {
  return [&io, &durability](uint64_t generation, bool durable) {
    asio::post(io, [&durability, generation, durable] {
      durability.settle_through(generation, durable);
    });
  };
}

// The ingest thread runs the io_context; the hand-over timer's first tick is set before it does
// (an asio timer is used from one thread at a time). Then the store thread.
std::thread start_threads(asio::io_context& io, HandoffTimer& handoff_timer, CommitLoop& commits) {
  handoff_timer.start();
  std::thread ingest_thread([&io] {
    pthread_setname_np(pthread_self(), "ingest");  // top -H, perf and the bench tell threads apart
    io.run();
  });
  commits.start();
  return ingest_thread;
}

void log_totals(const Ingest& ingest) {
  const IngestCounters& counters = ingest.counters();
  spdlog::info("meterd stopped: {} events accepted, {} rejected ({} over a cardinality limit), "
               "{} unmatched",
               counters.events_accepted, counters.events_rejected,
               counters.events_over_cardinality, counters.events_unmatched);
}

// The admin listener, when configured: it reads the loops' published counters, the listeners'
// drops, the uplink's stats and the buffer, and answers from a thread of its own.
Status start_admin(const Config& config, const AdminSources& sources,
                   std::unique_ptr<AdminListener>* out) {
  if (!config.listeners.admin) return Status::ok();
  auto admin = std::make_unique<AdminListener>(*config.listeners.admin, sources);
  if (Status s = admin->open(); !s) return s;
  admin->start();
  *out = std::move(admin);
  return Status::ok();
}

AdminSources admin_sources(const Config& config, const Store& store) {
  AdminSources sources;
  sources.version = METERD_VERSION;
  sources.agent_id = store.agent_id();
  sources.buffer_path = store.path();
  sources.commit_interval_ms = config.buffer.commit_interval_ms;
  sources.max_size_bytes = config.buffer.max_size_bytes;
  sources.buffer_recoveries = recoveries_so_far(store.path());
  sources.start_steady_ms = steady_clock_ms();
  return sources;
}

// A start-up step's failure is fatal: logged as critical, and run_agent returns 1.
bool ok_or_report(const Status& status, std::string_view step) {
  if (status) return true;
  if (step.empty()) {
    spdlog::critical("{}", status.message());
  } else {
    spdlog::critical("{}: {}", step, status.message());
  }
  return false;
}

int run_agent(const Config& config) {
  AdminSources sources;  // what the admin listener reads, filled in as the parts come up
  BufferLock lock;
  std::unique_ptr<Store> store;
  if (!ok_or_report(open_buffer(config, &lock, &store), "cannot open the buffer")) return 1;
  spdlog::info("buffer {} open: agent_id {}, {} open windows, {} records to send", store->path(),
               store->agent_id(), store->open_window_rows(), store->outbox_rows());
  sources = admin_sources(config, *store);
  std::unique_ptr<KafkaForwarder> uplink;
  if (!ok_or_report(start_uplink(config, *store, &uplink), "cannot start the Kafka uplink")) {
    return 1;
  }

  asio::io_context io;
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  if (!ok_or_report(seed_cardinality(*store, ingest), "cannot read the buffer's open windows")) {
    return 1;
  }
  Durability durability;
  Listeners listeners;
  if (!ok_or_report(listeners.open(config.listeners, io, ingest, durability), "")) return 1;
  std::atomic<bool> draining{false};
  ShutdownSignals signals(io, [&listeners, &draining] {
    draining = true;  // /readyz answers 503 from here on
    listeners.close();
  });

  // The ingest thread hands each interval's batch to the store thread; verdicts come back as
  // posts onto the ingest thread.
  BatchHandoff handoff;
  HandoffTimer handoff_timer(io, std::chrono::milliseconds(config.buffer.commit_interval_ms),
                             ingest, handoff);
  CommitLoop commits(*store, handoff, settle_on_ingest_thread(io, durability));
  Published<IngestSnapshot> ingest_stats;
  handoff_timer.publish_to(&ingest_stats);
  sources.ingest = &ingest_stats;
  sources.commits = &commits;
  sources.listeners = &listeners;
  sources.draining = &draining;
  KafkaForwarder* forwarder = uplink.get();
  sources.uplink = [forwarder] { return forwarder->stats(); };

  // Keeps the ingest thread running after the listeners closed, for the last hand-over and its
  // acknowledgements; shut_down_in_order stops it.
  auto keep_running = asio::make_work_guard(io);
  std::unique_ptr<AdminListener> admin;
  if (!ok_or_report(start_admin(config, sources, &admin), "")) return 1;
  std::thread ingest_thread = start_threads(io, handoff_timer, commits);
  spdlog::info("meterd ready");
  sd_notify(0, "READY=1");

  signals.wait();
  sd_notify(0, "STOPPING=1");
  shut_down_in_order(config, {io, ingest_thread, handoff_timer, commits, *store, *uplink});
  if (admin) admin->stop();  // last: it answered "draining" through the drain
  log_totals(ingest);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meterd: edge usage-metering agent"};
  std::string config_path, check_path, log_level;  // empty --log-level: the config's log.level
  app.add_option("--config", config_path, "YAML configuration file");
  app.add_option("--check-config", check_path, "validate a configuration file and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error (over log.level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  // Text on stderr until the config is read (so its errors print), then the configured format.
  start_text_logging(log_level.empty() ? "info" : log_level);

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
  apply_log_config(config.log, log_level);
  return run_agent(config);
}
