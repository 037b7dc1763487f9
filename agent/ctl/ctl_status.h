// `meterctl status`: one look at a meterd. Reads /status twice, `interval` apart, to show rates
// and to see whether dead letters are being added; with meterd not there, reads the backlog
// from the buffer file instead (read-only, safe beside a running meterd too). The exit code is
// the verdict (status_verdict.h): 0 healthy, 1 degraded, 2 down.
#pragma once

#include <ostream>

#include "agent/ctl/ctl_target.h"

namespace meterd {

struct StatusOptions {
  TargetOptions target;
  bool json = false;      // one JSON object (agent/ctl/README.md) instead of text
  double interval_s = 1;  // between the two readings
};

// Returns the process exit code. Problems with the command line or config go to `err` as one
// line, with exit code 2.
int run_status(const StatusOptions& options, std::ostream& out, std::ostream& err);

}  // namespace meterd
