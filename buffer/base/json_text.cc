#include "buffer/base/json_text.h"

#include <fmt/format.h>

#include <iterator>

namespace meterd {

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
