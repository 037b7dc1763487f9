// The JSON log line (json_formatter.h has its fields). Kept apart from the set-up so the unit
// test drives the formatter alone with hostile messages and parses every line back.
#include "agent/logging/json_formatter.h"

#include <chrono>
#include <ctime>
#include <iterator>

#include <fmt/format.h>

#include "buffer/base/json_text.h"

namespace meterd {
namespace {

// log.level's words, plus critical; spdlog's own names say "warning" and "err".
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  int64_t ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
  int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cached_second_) {
    std::time_t t = static_cast<std::time_t>(second);
    std::tm utc{};
    gmtime_r(&t, &utc);
    cached_time_ = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", utc.tm_year + 1900,
                               utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    cached_second_ = second;
  }
  line_.clear();
  fmt::format_to(std::back_inserter(line_), "{{\"time\":\"{}.{:03}Z\",\"level\":\"{}\",",
                 cached_time_, ms - second * 1000, level_name(msg.level));
  std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
  if (!logger.empty()) {
    line_.append("\"logger\":");
    valid_.clear();
    append_valid_utf8(&valid_, logger);
    append_json_string(&line_, valid_);
    line_.push_back(',');
  }
  fmt::format_to(std::back_inserter(line_), "\"thread\":{},\"message\":", msg.thread_id);
  std::string_view payload(msg.payload.data(), msg.payload.size());
  valid_.clear();
  append_valid_utf8(&valid_, payload);
  append_json_string(&line_, valid_);
  line_.append("}\n");
  dest.append(line_.data(), line_.data() + line_.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace meterd
