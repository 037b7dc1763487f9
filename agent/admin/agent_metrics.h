// AgentMetrics: meterd's Prometheus metrics, as a prometheus-cpp Collectable. Each scrape takes
// one AgentSnapshot and turns it into metric families; prometheus-cpp's TextSerializer writes the
// exposition format. The counters live in the loops as plain integers (published once a turn),
// so nothing on the per-event path touches a prometheus-cpp atomic; the library's registry and
// serializer only see the totals.
//
// The names and labels are a contract (README "Operate", dashboards, alerts): labels come from
// bounded sets only (transport, reason, version).
#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "agent/admin/agent_snapshot.h"

namespace meterd {

// The families for one snapshot, in a stable order.
std::vector<prometheus::MetricFamily> metric_families(const AgentSnapshot& snapshot,
                                                      const AdminSources& sources);

class AgentMetrics : public prometheus::Collectable {
 public:
  explicit AgentMetrics(SnapshotCollector& collector) : collector_(collector) {}
  // Admin thread (the collector's owner).
  std::vector<prometheus::MetricFamily> Collect() const override {
    return metric_families(collector_.collect(), collector_.sources());
  }

 private:
  SnapshotCollector& collector_;
};

}  // namespace meterd
