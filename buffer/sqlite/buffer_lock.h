// BufferLock: one agent per buffer file.
//
// Two agents writing one buffer would each believe they own its windows and outbox, and would
// send the same partials under the same keys while deleting each other's rows. An exclusive
// flock on `<buffer>.lock` (released by the kernel when the process dies, so a crash never
// leaves a stale lock) makes the second agent refuse to start with a clear message.
#pragma once

#include <string>

#include "buffer/base/status.h"

namespace meterd {

class BufferLock {
 public:
  BufferLock() = default;
  ~BufferLock();
  BufferLock(const BufferLock&) = delete;
  BufferLock& operator=(const BufferLock&) = delete;

  // Takes the lock for `buffer_path`, or says which process holds it.
  Status acquire(const std::string& buffer_path);

 private:
  int fd_ = -1;
};

}  // namespace meterd
