// The /status document (agent/admin/PROTOCOL.md): one snapshot as JSON, for meterctl status and
// meterctl top. Counters are totals since start; a reader takes two and divides.
#pragma once

#include <string>

#include "agent/admin/agent_snapshot.h"
#include "agent/admin/probes.h"

namespace meterd {

std::string status_json(const AgentSnapshot& snapshot, const AdminSources& sources,
                        const Health& health, const Readiness& readiness);

// The /healthz and /readyz bodies.
std::string health_json(const AgentSnapshot& snapshot, const Health& health);
std::string readiness_json(const Readiness& readiness);

}  // namespace meterd
