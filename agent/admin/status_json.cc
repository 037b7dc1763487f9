// Writing the /status, /healthz and /readyz documents (see status_json.h). JSON is written with
// fmt and the project's one string escaper (buffer/base/json_text.h); every key is always there.
#include "agent/admin/status_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "buffer/base/json_out.h"

namespace meterd {
namespace {

void write_health(JsonOut& w, const AgentSnapshot& s, const Health& health) {
  w.boolean("healthy", health.healthy);
  w.string("reason", health.reason);
  w.open("loops");
  for (const LoopAge& loop : health.loops) w.number(loop.loop, loop.seconds);
  w.close();
  w.boolean("broker_connected", s.uplink.broker_connected);
}

void write_events(JsonOut& w, const AgentSnapshot& s) {
  w.open("events");
  w.open("received");
  for (size_t t = 0; t < kTransports; ++t) {
    w.integer(kTransportNames[t], s.ingest.counters.transports[t].received);
  }
  w.close();
  w.open("accepted");
  for (size_t t = 0; t < kTransports; ++t) w.integer(kTransportNames[t], s.store.accepted[t]);
  w.close();
  w.open("rejected");
  for (size_t t = 0; t < kTransports; ++t) {
    w.open(kTransportNames[t]);
    for (size_t r = 0; r < kRejectReasons; ++r) w.integer(kRejectReasonNames[r], s.rejected(t, r));
    w.close();
  }
  w.close();
  w.integer("deduplicated", s.store.deduplicated);
  w.open("datagrams_dropped");
  for (Transport t : {Transport::kUdp, Transport::kUnixDatagram}) {
    w.integer(kTransportNames[static_cast<size_t>(t)], s.kernel_drops[static_cast<size_t>(t)]);
  }
  w.close();
  w.close();
}

void write_buffer(JsonOut& w, const AgentSnapshot& s, const AdminSources& sources) {
  w.open("buffer");
  w.integer("size_bytes", s.buffer_usage_bytes);
  w.integer("limit_bytes", sources.max_size_bytes);
  w.integer("open_windows", s.buffer.open_windows);
  w.integer("series", s.buffer.series);
  w.integer("outbox_records", s.buffer.outbox_records);
  w.number("outbox_oldest_age_seconds", s.outbox_oldest_age_seconds());
  w.integer("dead_letters", s.buffer.dead_letters);
  w.integer("dead_letters_evicted", s.store.dead_letters_evicted);
  w.open("dead_letters_by_reason");
  for (const auto& [reason, count] : s.buffer.dead_letters_by_reason) w.integer(reason, count);
  w.close();
  w.string("error", s.buffer_error);
  w.close();
}

void write_uplink(JsonOut& w, const AgentSnapshot& s) {
  const UplinkStats& u = s.uplink;
  w.open("commit");
  w.integer("count", static_cast<int64_t>(s.store.commit_seconds.count()));
  w.number("seconds_sum", s.store.commit_seconds.sum());
  w.integer("failures", s.store.commit_failures);
  w.close();
  w.open("uplink");
  w.integer("records_produced", u.records_produced);
  w.integer("records_delivered", u.records_delivered);
  w.integer("delivery_errors", u.delivery_errors);
  w.open("delivery_latency");
  w.integer("count", static_cast<int64_t>(u.delivery_latency.count()));
  w.number("seconds_sum", u.delivery_latency.sum());
  w.close();
  w.integer("last_delivery_unix_ms", u.last_delivery_unix_ms);
  w.string("last_error", u.last_error);
  w.close();
}

}  // namespace

std::string status_json(const AgentSnapshot& s, const AdminSources& sources, const Health& health,
                        const Readiness& readiness) {
  JsonOut w;
  w.open("");
  w.string("version", sources.version);
  w.string("agent_id", sources.agent_id);
  w.string("state", s.draining ? "draining" : "running");
  w.number("uptime_seconds", s.uptime_seconds);
  w.open("health");
  write_health(w, s, health);
  w.close();
  w.open("ready");
  w.boolean("ready", readiness.ready);
  w.string("reason", readiness.reason);
  w.close();
  write_events(w, s);
  write_buffer(w, s, sources);
  write_uplink(w, s);
  w.close();
  return w.take();
}

std::string health_json(const AgentSnapshot& snapshot, const Health& health) {
  JsonOut w;
  w.open("");
  write_health(w, snapshot, health);
  w.close();
  return w.take();
}

std::string readiness_json(const Readiness& readiness) {
  JsonOut w;
  w.open("");
  w.boolean("ready", readiness.ready);
  w.string("reason", readiness.reason);
  w.close();
  return w.take();
}

}  // namespace meterd
