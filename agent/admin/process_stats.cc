// Reads /proc/self/stat (CPU time, start time in clock ticks since boot), /proc/stat (the boot
// time), /proc/self/statm (resident pages) and /proc/self/fd (open descriptors), as the
// Prometheus client libraries' process collectors do.
#include "agent/admin/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace meterd {
namespace {

// Fields 14 (utime), 15 (stime) and 22 (starttime) of /proc/self/stat, in clock ticks. The
// second field (the command) may hold spaces and parentheses: fields count from its last ')'.
bool read_stat_ticks(double* cpu_ticks, double* start_ticks) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int number = 3; fields >> field; ++number) {
    if (number == 14) utime = std::stod(field);
    if (number == 15) stime = std::stod(field);
    if (number == 22) {
      *start_ticks = std::stod(field);
      *cpu_ticks = utime + stime;
      return true;
    }
  }
  return false;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  double cpu_ticks = 0, start_ticks = 0;
  if (ticks_per_second > 0 && read_stat_ticks(&cpu_ticks, &start_ticks)) {
    stats.cpu_seconds = cpu_ticks / ticks_per_second;
    stats.start_time_seconds = boot_time_seconds() + start_ticks / ticks_per_second;
  }
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    stats.resident_memory_bytes = resident_pages * static_cast<double>(sysconf(_SC_PAGESIZE));
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    stats.open_fds += 1;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

}  // namespace meterd
