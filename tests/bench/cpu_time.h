// CPU time of the calling thread or of the whole process, in seconds, for the in-process bench
// tools (ingest_cpu, commit_cpu).
#pragma once

#include <ctime>

namespace meterd::bench {

// `clock`: CLOCK_THREAD_CPUTIME_ID or CLOCK_PROCESS_CPUTIME_ID.
inline double cpu_seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace meterd::bench
