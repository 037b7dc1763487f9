// JSON text: writing a string as a JSON string literal. Used wherever meterd writes JSON itself
// (Kafka records, HTTP error bodies, msgpack transcoded to JSON), so every one escapes alike.
// Parsing JSON is simdjson's job, never this file's.
#pragma once

#include <string>
#include <string_view>

namespace meterd {

// Appends `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires.
void append_json_string(std::string* out, std::string_view text);

}  // namespace meterd
