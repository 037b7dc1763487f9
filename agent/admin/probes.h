// Health and readiness: the verdicts behind /healthz and /readyz (and meterctl status).
//
// Healthy: the ingest, store and uplink loops each ticked within 10 commit intervals (at least a
// second, so a scheduling hiccup on a loaded machine is not a stall). A stuck loop is what a
// restart cures; a broker outage is not (buffering through it is meterd's job), so health only
// reports the broker's state. While draining after SIGTERM the loops stop on purpose: healthy.
//
// Ready: serving (the admin listener starts once the buffer is open and every listener bound),
// not draining, and the buffer not refusing events for being full.
#pragma once

#include <array>
#include <string>

#include "agent/admin/agent_snapshot.h"

namespace meterd {

struct LoopAge {
  const char* loop;
  double seconds;  // since it last ticked
};

struct Health {
  bool healthy = true;
  std::string reason;  // empty when healthy
  std::array<LoopAge, 3> loops{};
};

struct Readiness {
  bool ready = true;
  std::string reason;
};

Health judge_health(const AgentSnapshot& snapshot, const AdminSources& sources);
Readiness judge_readiness(const AgentSnapshot& snapshot, const AdminSources& sources);

}  // namespace meterd
