// JsonLogFormatter: spdlog's formatter for `log.format: json`, one JSON object a line:
//
//   {"time":"2024-05-01T12:00:00.123Z","level":"warn","logger":"meterd","thread":4242,
//    "message":"..."}
//
// `time` is RFC 3339 in UTC with milliseconds; `level` is trace, debug, info, warn, error or
// critical (the words log.level takes); `thread` is the OS thread id. The message is written
// through buffer/base/json_text.h, the one JSON string writer, so quotes, backslashes and control
// characters are escaped as everywhere else; text that is not valid UTF-8 (a hostile datagram
// quoted in a warning) has each bad byte replaced by U+FFFD first, so every line parses.
// Structured parts of a message stay in the message text.
//
// A formatter belongs to one sink, which calls it under its own lock (the _mt sinks), so the
// per-second time cache needs no lock of its own.
#pragma once

#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace meterd {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  int64_t cached_second_ = INT64_MIN;  // the unix second `cached_time_` spells
  std::string cached_time_;            // "YYYY-MM-DDTHH:MM:SS" of that second
  std::string line_;                   // the line being built, kept for its capacity
  std::string valid_;                  // the message made valid UTF-8, when it was not
};

}  // namespace meterd
