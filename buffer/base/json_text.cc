#include "buffer/base/json_text.h"

#include <fmt/format.h>

#include <iterator>

namespace meterd {
namespace {

bool continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0 if there is none.
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

}  // namespace

void append_valid_utf8(std::string* out, std::string_view bytes) {
  while (!bytes.empty()) {
    size_t length = sequence_length(bytes);
    if (length == 0) {
      out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER, for this one byte
      length = 1;
    } else {
      out->append(bytes.substr(0, length));
    }
    bytes.remove_prefix(length);
  }
}

void append_json_string_lossy(std::string* out, std::string_view text) {
  std::string valid;
  append_valid_utf8(&valid, text);
  append_json_string(out, valid);
}

void append_json_string(std::string* out, std::string_view text) {
  out->push_back('"');
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (byte < 0x20) {
          fmt::format_to(std::back_inserter(*out), "\\u{:04x}", byte);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace meterd
