// ProcessStats: the standard process metrics every Prometheus exporter serves (resident memory,
// CPU time, open descriptors, start time), read from /proc/self when scraped.
#pragma once

#include <cstdint>

namespace meterd {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double cpu_seconds = 0;  // user + system
  double open_fds = 0;
  double start_time_seconds = 0;  // since the unix epoch
  double max_fds = 0;             // the soft RLIMIT_NOFILE
};

// Reads this process's figures; a figure /proc does not give stays 0.
ProcessStats read_process_stats();

}  // namespace meterd
