// JsonLogFormatter: every line a log.format: json run writes must parse as one JSON object with
// time, level and message, whatever the message holds (quotes, backslashes, control characters,
// newlines, NUL, non-ASCII, bytes that are not UTF-8). Lines are parsed back with simdjson, which
// also rejects invalid UTF-8, so a formatter that passed a bad byte through fails here.
#include <catch2/catch.hpp>
#include <simdjson.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "agent/logging/json_formatter.h"

using namespace meterd;

namespace {

struct Parsed {
  std::string time, level, logger, message;
  int64_t thread = -1;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Parsed parse(const std::string& line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  INFO(line);
  REQUIRE(parser.parse(line).get(doc) == simdjson::SUCCESS);
  REQUIRE(doc.is_object());
  Parsed out;
  std::string_view text;
  REQUIRE(doc["time"].get(text) == simdjson::SUCCESS);
  out.time = text;
  REQUIRE(doc["level"].get(text) == simdjson::SUCCESS);
  out.level = text;
  REQUIRE(doc["message"].get(text) == simdjson::SUCCESS);
  out.message = text;
  REQUIRE(doc["logger"].get(text) == simdjson::SUCCESS);
  out.logger = text;
  REQUIRE(doc["thread"].get(out.thread) == simdjson::SUCCESS);
  return out;
}

std::string format_one(const spdlog::details::log_msg& msg) {
  JsonLogFormatter formatter;
  spdlog::memory_buf_t buffer;
  formatter.format(msg, buffer);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace

TEST_CASE("json log: hostile messages give one valid JSON object a line", "[log]") {
  const std::string replacement = "\xEF\xBF\xBD";
  const std::string four = replacement + replacement + replacement + replacement;
  // (message logged, message expected after parsing)
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", "plain"},
      {"say \"hi\" and \\ back\\slash \\\"", "say \"hi\" and \\ back\\slash \\\""},
      {"line one\nline two\r\n\ttabbed", "line one\nline two\r\n\ttabbed"},
      {std::string("nul \0 inside", 12), std::string("nul \0 inside", 12)},
      {"ctl \x01\x08\x0c\x1b[31m\x1f\x7f end", "ctl \x01\x08\x0c\x1b[31m\x1f\x7f end"},
      {"caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82 \xE2\x80\xA8",
       "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82 \xE2\x80\xA8"},
      {"bad \xFF\xFE bytes", "bad " + replacement + replacement + " bytes"},
      {"cut \xE6\x97", "cut " + replacement + replacement},
      {"overlong \xC0\xAF", "overlong " + replacement + replacement},
      {"surrogate \xED\xA0\x80", "surrogate " + replacement + replacement + replacement},
      {"too high \xF4\x90\x80\x80", "too high " + four},  // past U+10FFFF
      {"}{\"level\":\"x\"}", "}{\"level\":\"x\"}"},
      {"", ""},
  };
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(std::make_unique<JsonLogFormatter>());
  spdlog::logger logger("meterd", sink);
  logger.set_level(spdlog::level::trace);
  for (const auto& [message, expected] : cases) {
    logger.log(spdlog::level::warn, spdlog::string_view_t(message.data(), message.size()));
  }
  std::vector<std::string> lines = lines_of(out.str());
  REQUIRE(lines.size() == cases.size());  // a newline in a message never splits its line
  for (size_t i = 0; i < lines.size(); ++i) {
    Parsed parsed = parse(lines[i]);
    CHECK(parsed.level == "warn");
    CHECK(parsed.logger == "meterd");
    CHECK(parsed.thread > 0);
    CHECK(parsed.message == cases[i].second);
  }
}

TEST_CASE("json log: time is RFC 3339 UTC with milliseconds; levels use log.level's words",
          "[log]") {
  using namespace std::chrono;
  // 2024-02-29T23:59:59.007Z, a leap day one millisecond-count before midnight.
  auto when = system_clock::time_point(milliseconds(1709251199007LL));
  spdlog::details::log_msg msg(when, spdlog::source_loc{}, "meterd", spdlog::level::err, "x");
  Parsed parsed = parse(format_one(msg));
  CHECK(parsed.time == "2024-02-29T23:59:59.007Z");
  CHECK(parsed.level == "error");
  msg.time = system_clock::time_point(milliseconds(1709251200000LL));
  msg.level = spdlog::level::trace;
  parsed = parse(format_one(msg));
  CHECK(parsed.time == "2024-03-01T00:00:00.000Z");
  CHECK(parsed.level == "trace");

  JsonLogFormatter formatter;  // the per-second cache: two lines in one second, then the next
  spdlog::memory_buf_t buffer;
  for (int64_t ms : {1709251199007LL, 1709251199999LL, 1709251200001LL}) {
    msg.time = system_clock::time_point(milliseconds(ms));
    formatter.format(msg, buffer);
  }
  std::vector<std::string> lines = lines_of(std::string(buffer.data(), buffer.size()));
  REQUIRE(lines.size() == 3);
  CHECK(parse(lines[0]).time == "2024-02-29T23:59:59.007Z");
  CHECK(parse(lines[1]).time == "2024-02-29T23:59:59.999Z");
  CHECK(parse(lines[2]).time == "2024-03-01T00:00:00.001Z");
  static const std::regex kRfc3339(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
  msg.time = system_clock::now();
  CHECK(std::regex_match(parse(format_one(msg)).time, kRfc3339));
}
