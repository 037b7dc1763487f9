// JsonOut: writes one JSON document member by member (the admin listener's /status,
// `meterctl status --json`). Strings are made valid UTF-8 and escaped by the project's one
// escaper (json_text.h); a number that is not finite is written as null.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "buffer/base/json_text.h"

namespace meterd {

class JsonOut {
 public:
  // Opens an object (or the document, with an empty key); close() ends it.
  void open(std::string_view key) { start(key, '{'); }
  void open_array(std::string_view key) { start(key, '['); }
  void close() { end('}'); }
  void close_array() { end(']'); }

  void integer(std::string_view key, int64_t value) {
    member(key);
    fmt::format_to(std::back_inserter(out_), "{}", value);
  }
  void number(std::string_view key, double value) {
    if (!std::isfinite(value)) return null(key);
    member(key);
    fmt::format_to(std::back_inserter(out_), "{}", value);
  }
  void boolean(std::string_view key, bool value) {
    member(key);
    out_ += value ? "true" : "false";
  }
  void string(std::string_view key, std::string_view value) {
    member(key);
    append_json_string_lossy(&out_, value);  // strings from brokers or clients may be any bytes
  }
  void null(std::string_view key) {
    member(key);
    out_ += "null";
  }

  std::string take() { return std::move(out_); }

 private:
  void start(std::string_view key, char bracket) {
    member(key);
    out_ += bracket;
    first_ = true;
  }
  void end(char bracket) {
    out_ += bracket;
    first_ = false;
  }
  // Array elements pass an empty key.
  void member(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    if (key.empty()) return;
    append_json_string(&out_, key);
    out_ += ':';
  }

  std::string out_;
  bool first_ = true;
};

}  // namespace meterd
