// The key of a simdjson On-Demand object field as a string_view, without copying it.
//
// simdjson's unescaped_key() copies every key into the parser's string buffer; event keys almost
// never hold an escape, so the raw bytes up to the closing quote are the key. A key with a
// backslash is unescaped the slow way, so `"\u0069d"` still reads as "id".
#pragma once

#include <simdjson.h>

#include <string_view>

namespace meterd {

inline simdjson::error_code json_field_key(simdjson::ondemand::field& field, std::string_view* key) {
  // Stage 1 guarantees the string is closed, so the scan stops inside the payload.
  const char* raw = field.key().raw();
  const char* end = raw;
  while (*end != '"' && *end != '\\') ++end;
  if (*end == '"') {
    *key = std::string_view(raw, static_cast<size_t>(end - raw));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*key);
}

}  // namespace meterd
