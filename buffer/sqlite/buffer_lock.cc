// flock-based exclusive ownership of a buffer file (see buffer_lock.h).
#include "buffer/sqlite/buffer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace meterd {

BufferLock::~BufferLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

Status BufferLock::acquire(const std::string& buffer_path) {
  std::string path = buffer_path + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::error(fmt::format("opening {}: {}", path, strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
    close(fd);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::error(fmt::format(
        "another meterd (pid {}) is using the buffer {}; one agent per buffer", pid,
        buffer_path));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t written = pwrite(fd, pid.data(), pid.size(), 0);
  }
  fd_ = fd;
  return Status::ok();
}

}  // namespace meterd
