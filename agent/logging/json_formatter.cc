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

bool continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF), or 0 if there is none.
size_t sequence_length(std::string_view text) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = at(0);
  if (lead < 0x80) return 1;
  size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (length == 0 || text.size() < length) return 0;
  // The second byte's range depends on the lead; the rest are plain continuation bytes.
  unsigned char low = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
  unsigned char high = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
  if (at(1) < low || at(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!continuation(at(i))) return 0;
  }
  return length;
}

// Appends `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by
// U+FFFD, so the line stays valid JSON (RFC 8259 text is UTF-8).
void append_valid_utf8(std::string* out, std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t length = sequence_length(text.substr(i));
    if (length == 0) {
      out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER, for this one byte
      ++i;
      continue;
    }
    out->append(text.substr(i, length));
    i += length;
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
