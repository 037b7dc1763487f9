// AgentSnapshot: everything the admin endpoints report, read at once from the loops' published
// counters, the listeners, the uplink and the buffer (through a read-only connection of its
// own), so /metrics, /healthz, /readyz and /status each answer from one consistent reading.
//
// SnapshotCollector runs on the admin thread only: it owns the read-only BufferGauges, opened at
// the first reading. Reading costs the ingest, store and uplink threads nothing but a mutex taken
// for a copy.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/admin/process_stats.h"
#include "agent/ingest/commit_loop.h"
#include "agent/ingest/event_counts.h"
#include "agent/listeners/listeners.h"
#include "buffer/base/published.h"
#include "buffer/store/buffer_gauges.h"
#include "uplink/uplink_stats.h"

namespace meterd {

// What the admin listener reads from; run_agent owns all of it, and it outlives the listener.
struct AdminSources {
  std::string version;
  std::string agent_id;
  std::string buffer_path;
  int64_t commit_interval_ms = 200;
  int64_t max_size_bytes = 0;  // buffer.max_size
  int64_t buffer_recoveries = 0;  // damaged buffers moved aside at this path, ever
  int64_t start_steady_ms = 0;
  const Published<IngestSnapshot>* ingest = nullptr;
  const CommitLoop* commits = nullptr;
  std::function<UplinkStats()> uplink;  // the forwarder's stats(), any thread
  const Listeners* listeners = nullptr;
  const std::atomic<bool>* draining = nullptr;  // set when SIGTERM starts the drain
};

struct AgentSnapshot {
  int64_t now_unix_ms = 0;
  int64_t now_steady_ms = 0;
  double uptime_seconds = 0;
  bool draining = false;
  IngestSnapshot ingest;
  StoreStats store;
  UplinkStats uplink;
  std::array<int64_t, kTransports> kernel_drops{};
  BufferGaugeValues buffer;
  std::string buffer_error;  // why the buffer could not be read (its gauges are then 0)
  int64_t buffer_usage_bytes = 0;  // the measure buffer.max_size holds: dedup keys excluded
  ProcessStats process;

  // Refused events of a transport for a reason: ingest's refusals, and for buffer_full the
  // store's (a batch the buffer refused).
  int64_t rejected(size_t transport, size_t reason) const {
    int64_t value = ingest.counters.transports[transport].rejected[reason];
    if (reason == static_cast<size_t>(RejectReason::kBufferFull)) value += store.refused[transport];
    return value;
  }
  // How long the oldest outbox window has waited since it ended (0: the outbox is empty).
  double outbox_oldest_age_seconds() const {
    if (buffer.outbox_oldest_window_end_ms <= 0) return 0;
    double age = static_cast<double>(now_unix_ms - buffer.outbox_oldest_window_end_ms) / 1000.0;
    return age > 0 ? age : 0;
  }
};

class SnapshotCollector {
 public:
  explicit SnapshotCollector(const AdminSources& sources) : sources_(sources) {}

  AgentSnapshot collect();
  const AdminSources& sources() const { return sources_; }

 private:
  void read_buffer(AgentSnapshot* snapshot);

  const AdminSources& sources_;
  std::unique_ptr<BufferGauges> gauges_;
};

}  // namespace meterd
