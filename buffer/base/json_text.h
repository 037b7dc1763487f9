// JSON text: writing a string as a JSON string literal, made valid UTF-8 where it came from outside. Used wherever meterd writes JSON itself
// (Kafka records, HTTP error bodies, msgpack transcoded to JSON), so every one escapes alike.
// Parsing JSON is simdjson's job, never this file's.
#pragma once

#include <string>
#include <string_view>

namespace meterd {

// Appends `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires.
// `text` must be valid UTF-8; bytes from outside may not be: see append_valid_utf8.
void append_json_string(std::string* out, std::string_view text);

// Appends `bytes` with every byte that does not start a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF) replaced by U+FFFD. Raw events, broker
// errors and log messages may be anything, and JSON text must be UTF-8.
void append_valid_utf8(std::string* out, std::string_view bytes);

// append_json_string of `text` made valid UTF-8 first.
void append_json_string_lossy(std::string* out, std::string_view text);

}  // namespace meterd
