// The metric families of one snapshot (see agent_metrics.h), grouped as README's "Operate"
// lists them: events, buffer, commits, uplink, build and process.
#include "agent/admin/agent_metrics.h"

#include <deque>
#include <iterator>
#include <limits>
#include <string>
#include <utility>

#include "buffer/base/histogram.h"

namespace meterd {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  MetricFamily& family(std::string name, std::string help, MetricType type) {
    families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  void counter(std::string name, std::string help, double value) {
    add(family(std::move(name), std::move(help), MetricType::Counter), value);
  }
  void gauge(std::string name, std::string help, double value) {
    add(family(std::move(name), std::move(help), MetricType::Gauge), value);
  }
  static void add(MetricFamily& family, double value, Labels labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (family.type == MetricType::Counter) metric.counter.value = value;
    else metric.gauge.value = value;
    family.metric.push_back(std::move(metric));
  }
  void histogram(std::string name, std::string help, const Histogram& observed) {
    MetricFamily& out = family(std::move(name), std::move(help), MetricType::Histogram);
    ClientMetric metric;
    metric.histogram.sample_count = observed.count();
    metric.histogram.sample_sum = observed.sum();
    for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
      metric.histogram.bucket.push_back({observed.cumulative(i), Histogram::kBounds[i]});
    }
    // prometheus-cpp writes the +Inf bucket as the last bound given.
    metric.histogram.bucket.push_back(
        {observed.count(), std::numeric_limits<double>::infinity()});
    out.metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> take() {
    return std::vector<MetricFamily>(std::make_move_iterator(families_.begin()),
                                     std::make_move_iterator(families_.end()));
  }

 private:
  // A deque: family() hands out references that must survive the families added after.
  std::deque<MetricFamily> families_;
};

Labels transport_label(size_t t) { return {{"transport", std::string(kTransportNames[t])}}; }

void event_families(const AgentSnapshot& s, Families& out) {
  auto& received = out.family("meterd_events_received_total",
                              "Events received, valid or not, by transport", MetricType::Counter);
  auto& accepted = out.family("meterd_events_accepted_total",
                              "Events committed to the buffer (resends included), by transport",
                              MetricType::Counter);
  auto& rejected = out.family("meterd_events_rejected_total",
                              "Events refused, by transport and reason", MetricType::Counter);
  for (size_t t = 0; t < kTransports; ++t) {
    const TransportCounts& counts = s.ingest.counters.transports[t];
    Families::add(received, static_cast<double>(counts.received), transport_label(t));
    Families::add(accepted, static_cast<double>(s.store.accepted[t]), transport_label(t));
    for (size_t r = 0; r < kRejectReasons; ++r) {
      Families::add(rejected, static_cast<double>(s.rejected(t, r)),
                    {{"reason", std::string(kRejectReasonNames[r])},
                     {"transport", std::string(kTransportNames[t])}});
    }
  }
  out.counter("meterd_events_deduplicated_total",
              "Acknowledged events dropped as resends of an event already counted",
              static_cast<double>(s.store.deduplicated));
  auto& dropped = out.family("meterd_datagrams_dropped_total",
                             "Datagrams the kernel dropped because the receive buffer was full",
                             MetricType::Counter);
  for (Transport t : {Transport::kUdp, Transport::kUnixDatagram}) {
    size_t i = static_cast<size_t>(t);
    Families::add(dropped, static_cast<double>(s.kernel_drops[i]), transport_label(i));
  }
}

void buffer_families(const AgentSnapshot& s, const AdminSources& sources, Families& out) {
  out.gauge("meterd_dead_letters", "Dead letters kept in the buffer",
            static_cast<double>(s.buffer.dead_letters));
  out.counter("meterd_dead_letters_evicted_total",
              "Dead letters evicted over buffer.dead_letter_limit",
              static_cast<double>(s.store.dead_letters_evicted));
  out.gauge("meterd_windows_open", "Open window rows in the buffer",
            static_cast<double>(s.buffer.open_windows));
  out.gauge("meterd_series_active", "Series the buffer holds (in an open window or the outbox)",
            static_cast<double>(s.buffer.series));
  out.gauge("meterd_buffer_size_bytes", "Buffer bytes in use, measured as buffer.max_size is",
            static_cast<double>(s.buffer_usage_bytes));
  out.gauge("meterd_buffer_limit_bytes", "buffer.max_size",
            static_cast<double>(sources.max_size_bytes));
  out.gauge("meterd_outbox_records", "Closed windows waiting for the broker's confirmation",
            static_cast<double>(s.buffer.outbox_records));
  out.gauge("meterd_outbox_oldest_age_seconds",
            "Seconds since the end of the oldest window waiting to be sent",
            s.outbox_oldest_age_seconds());
  out.counter("meterd_records_coarsened_total",
              "Outbox rows merged into coarser windows over buffer.coarsen_at",
              static_cast<double>(s.store.records_coarsened));
  out.counter("meterd_buffer_recoveries_total",
              "Damaged buffers moved aside at this path (ever)",
              static_cast<double>(sources.buffer_recoveries));
  out.histogram("meterd_commit_duration_seconds", "Time one buffer commit took",
                s.store.commit_seconds);
  out.counter("meterd_commit_failures_total", "Buffer commits that failed (retried)",
              static_cast<double>(s.store.commit_failures));
}

void uplink_families(const AgentSnapshot& s, Families& out) {
  const UplinkStats& u = s.uplink;
  out.counter("meterd_records_produced_total",
              "Window records handed to the Kafka client (resends included)",
              static_cast<double>(u.records_produced));
  out.counter("meterd_records_delivered_total", "Window records the broker confirmed",
              static_cast<double>(u.records_delivered));
  out.counter("meterd_delivery_errors_total", "Failed deliveries and refused records (resent)",
              static_cast<double>(u.delivery_errors));
  out.histogram("meterd_delivery_latency_seconds",
                "Time from handing a record to the Kafka client to the broker's confirmation",
                u.delivery_latency);
  out.gauge("meterd_broker_connected", "1 while at least one Kafka broker is reachable",
            u.broker_connected ? 1 : 0);
  out.counter("meterd_dead_letters_produced_total",
              "Dead-letter records handed to the Kafka client (resends included)",
              static_cast<double>(u.dead_letters_produced));
  out.counter("meterd_dead_letters_delivered_total",
              "Dead-letter records the broker confirmed (then marked sent in the buffer)",
              static_cast<double>(u.dead_letters_delivered));
}

void process_families(const AgentSnapshot& s, const AdminSources& sources, Families& out) {
  auto& build = out.family("meterd_build_info", "meterd's version", MetricType::Gauge);
  Families::add(build, 1, {{"version", sources.version}});
  const ProcessStats& p = s.process;
  out.gauge("process_resident_memory_bytes", "Resident memory size in bytes",
            p.resident_memory_bytes);
  out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
              p.cpu_seconds);
  out.gauge("process_open_fds", "Number of open file descriptors", p.open_fds);
  out.gauge("process_max_fds", "Maximum number of open file descriptors", p.max_fds);
  out.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds",
            p.start_time_seconds);
}

}  // namespace

std::vector<MetricFamily> metric_families(const AgentSnapshot& snapshot,
                                          const AdminSources& sources) {
  Families out;
  event_families(snapshot, out);
  buffer_families(snapshot, sources, out);
  uplink_families(snapshot, out);
  process_families(snapshot, sources, out);
  return out.take();
}

}  // namespace meterd
