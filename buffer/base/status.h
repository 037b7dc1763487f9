// Status: the error value returned by every runtime path of meterd (store, uplink, listeners).
//
// Errors on hot and runtime paths are values, not exceptions: a caller can log, count or retry
// them without unwinding. SQLite and librdkafka codes are turned into a Status at the boundary
// where they are called, with a message that says what was being done.
#pragma once

#include <string>
#include <utility>

namespace meterd {

class Status {
 public:
  Status() = default;  // success

  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}

  bool failed_ = false;
  std::string message_;
};

}  // namespace meterd
