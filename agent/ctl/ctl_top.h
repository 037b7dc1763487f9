// `meterctl top`: a live full-screen view of a running meterd, read from its /status once a
// second (like `vector top`): rates per transport, the backlog and its trend, deliveries, commit
// time, dead letters. When meterd goes away it says so and keeps asking; q or Ctrl-C quits.
#pragma once

#include "agent/ctl/ctl_target.h"

namespace meterd {

struct TopOptions {
  TargetOptions target;
};

// Returns the process exit code: 0 after q or Ctrl-C, 2 when the options name no meterd.
int run_top(const TopOptions& options);

}  // namespace meterd
