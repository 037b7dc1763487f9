// Reading an AgentSnapshot (see agent_snapshot.h).
#include "agent/admin/agent_snapshot.h"

#include <algorithm>

#include "buffer/base/clock.h"
#include "buffer/store/store.h"

namespace meterd {

AgentSnapshot SnapshotCollector::collect() {
  AgentSnapshot snapshot;
  snapshot.now_unix_ms = wall_clock_ms();
  snapshot.now_steady_ms = steady_clock_ms();
  snapshot.uptime_seconds =
      static_cast<double>(snapshot.now_steady_ms - sources_.start_steady_ms) / 1000.0;
  snapshot.draining = sources_.draining && sources_.draining->load();
  if (sources_.ingest) snapshot.ingest = sources_.ingest->get();
  if (sources_.commits) snapshot.store = sources_.commits->stats();
  if (sources_.uplink) snapshot.uplink = sources_.uplink();
  if (sources_.listeners) snapshot.kernel_drops = sources_.listeners->kernel_drops();
  read_buffer(&snapshot);
  snapshot.process = read_process_stats();
  return snapshot;
}

void SnapshotCollector::read_buffer(AgentSnapshot* snapshot) {
  if (!gauges_) {
    if (Status s = BufferGauges::open(sources_.buffer_path, &gauges_); !s) {
      gauges_.reset();
      snapshot->buffer_error = s.message();
      return;
    }
  }
  if (Status s = gauges_->read(&snapshot->buffer); !s) {
    snapshot->buffer_error = s.message();
    gauges_.reset();  // opened again at the next reading
    return;
  }
  // The dedup keys have a bound of their own; buffer.max_size holds the rest (Store's rule).
  int64_t dedup_bytes = snapshot->store.dedup_keys * Store::kDedupBytesPerKey;
  snapshot->buffer_usage_bytes = std::max<int64_t>(0, snapshot->buffer.used_bytes - dedup_bytes);
}

}  // namespace meterd
